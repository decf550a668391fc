"""The OpenFlow budget's numbers and where a service keeps its own (no language: the CLI reads them).

How a flow is priced is :mod:`ovn_inject.core.bound`'s business; these are
the limits it is held to, cheap to import for commands that only show them.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Most OpenFlow flows one flow may cost on a chassis.
DEFAULT_FLOW_LIMIT = 1_000
#: Default budget of one service: the sum of its flows' OpenFlow cost.
DEFAULT_SERVICE_BUDGET = 20_000
#: Service.options key of a service's own budget.
BUDGET_OPTION = "max_openflow_flows"


def budget(options: Mapping[str, str]) -> int:
    """A service's budget from its options (the default when unset or not a number)."""
    text = options.get(BUDGET_OPTION, "")
    return int(text) if text.isdigit() else DEFAULT_SERVICE_BUDGET
