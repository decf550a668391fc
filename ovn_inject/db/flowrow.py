"""A new flow's stored columns, the same for each path that writes one.

The gateway's group commit (db.flowtxn, plain JSON), python-ovs's rows
(db.flow_commands.insert_flows) and the CLI's one-shot write (db.oneshot) all
insert Service_Flow rows; what goes in them is said once, here. Cheap to
import: the one-shot flow-add imports neither python-ovs nor core.status.
"""

from __future__ import annotations

from ovn_inject.core.validate import cookie_to_db

TYPE_CHECKING = False  # typing itself is imported for mypy alone (see db.oneshot)
if TYPE_CHECKING:
    from typing import Any

    from ovn_inject.core.validate import ValidFlow

#: A new flow's status, FlowState.PENDING's value: creating core.status's enums would cost a
#: flow-add more (0.3 ms) than the rest of its write (tests/unit/test_oneshot.py checks they agree).
PENDING = "pending"


def flow_columns(flow: ValidFlow, created: int) -> dict[str, Any]:
    """The columns of ``flow``'s row but its references (service, attachment), in the order sent.

    A column left out of an insert is the type's default: a zero cookie or
    hard timeout need not be converted and sent.
    """
    columns: dict[str, Any] = {"priority": flow.priority, "match": flow.match, "actions": flow.actions}
    if flow.cookie:
        columns["cookie"] = cookie_to_db(flow.cookie)
    if flow.hard_timeout:
        columns["hard_timeout"] = flow.hard_timeout
    columns["openflow_flows"] = flow.openflow_flows
    columns["created"] = created
    columns["status"] = PENDING
    return columns
