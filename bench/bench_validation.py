"""What the OpenFlow expansion bound costs the validation seam: flows per second with and without it.

Both in the same process, on the same flows: the language and policy checks
a flow went through before the bound (the baseline), then the whole
:func:`ovn_inject.core.validate.validate_flow` (those checks + the compiled
cost at each of the service's attachments + the limit). A refused flow stops
at the first one, as a request does; here every flow passes, so the figure is
the full cost. Printed as a ratio so runs on different machines compare, with
the machine's load next to it.
"""

from __future__ import annotations

import os
import re
import time

from bench_expansion import matches

from ovn_inject.core.validate import (
    AttachmentView,
    FlowRequest,
    FlowValidationError,
    ServiceView,
    _check_language_and_policy,
    validate_flow,
)

N = 10_000
PORT = AttachmentView("11111111-0000-0000-0000-000000000000", "lsp", "vm1", "ls-in-port")
SWITCH = AttachmentView("22222222-0000-0000-0000-000000000000", "ls", "ls-a", "ls-out-deliver")
SERVICE = ServiceView(
    "ips",
    "tenant-a",
    None,
    (PORT, SWITCH),
    0,
    {PORT.uuid: frozenset({"vm1"}), SWITCH.uuid: frozenset({"vm1", "vm2", "vm3"})},
)


def requests() -> list[FlowRequest]:
    """bench_expansion's matches as a service may write them: no port, address set or port group.

    The compiler adds the scope on the ports; a service names addresses itself.
    """
    texts = [
        re.sub(r"\$as\d+", "{10.0.0.1, 10.0.0.2}", re.sub(r"^(in|out)port == \S+ && ", "", text))
        for text in matches(N)
    ]
    return [FlowRequest(10, text, "drop;") for text in texts]


def baseline(flows: list[FlowRequest]) -> float:
    start = time.perf_counter()
    for flow in flows:
        _check_language_and_policy(flow.match, flow.actions, SERVICE.attachments, SERVICE, None)
    return time.perf_counter() - start


def bounded(flows: list[FlowRequest]) -> tuple[float, int]:
    refused = 0
    start = time.perf_counter()
    for flow in flows:
        try:
            validate_flow(flow, SERVICE)
        except FlowValidationError:
            refused += 1
    return time.perf_counter() - start, refused


def main() -> None:
    flows = requests()
    bounded(flows[:500])  # warm the predicate/prerequisite caches
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"validation: {len(flows)} flows, 2 attachments (1 + 3 ports), load average {load}")
    shaped = flows[::10]
    plain = [f for i, f in enumerate(flows) if i % 10]
    for label, chosen in (("all", flows), ("plain 9/10", plain), ("negated set or range 1/10", shaped)):
        base = baseline(chosen)
        took, refused = bounded(chosen)
        print(
            f"  {label}: language + policy {len(chosen) / base:,.0f} flows/s; "
            f"+ expansion bound {len(chosen) / took:,.0f} flows/s = {base / took:.2f}x ({refused} refused)"
        )


if __name__ == "__main__":
    main()
