"""The OpenFlow expansion bound: what a flow costs ovn-controller, and the limits on that (pure).

ovn-controller turns one logical flow into as many OpenFlow flows as its
normalised match has alternatives (:mod:`ovn_inject.lang.expansion`); a few
negated sets are enough to make it install millions and die. Every process
that reads a flow prices it the same way here: the gateway and the CLI before
anything is stored (a flow over :data:`DEFAULT_FLOW_LIMIT` is refused, and a
service's flows together must stay under its budget), the daemon again before
a row reaches SB (OVN_Inject may have been written by hand).

A flow is priced as compiled: ``cursor && scope && (match)`` where the scope
names the tenant's ports its attachment covers, summed over the attachments
it applies to (a chassis may host every one of their datapaths).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from ovn_inject.core.hooks import HOOKS_BY_NAME, TargetKind
from ovn_inject.core.quota import BUDGET_OPTION, DEFAULT_FLOW_LIMIT, DEFAULT_SERVICE_BUDGET, budget

__all__ = ["BUDGET_OPTION", "DEFAULT_FLOW_LIMIT", "DEFAULT_SERVICE_BUDGET", "budget"]
from ovn_inject.core.reach import scope_match
from ovn_inject.core.topology import TargetError, Topology
from ovn_inject.lang import Expr, Release
from ovn_inject.lang import expansion as ex
from ovn_inject.lang.match_parser import parse_match_tree

#: Which ovn-controller normaliser a release has (lib/expr.c changed in 23.06 and 26.03).
_SUPERSETS_FROM = (23, 6)
_PREFIXES_FROM = (26, 3)


def expansion_release(release: Release | str | None) -> ex.Release:
    """The normaliser of ``release`` (None: 23.03's, the most expensive)."""
    if release is None:
        return ex.RELEASES[ex.DEFAULT_RELEASE]
    name = release if isinstance(release, str) else release.name
    if name in ex.RELEASES:
        return ex.RELEASES[name]
    major, minor = (int(part) for part in name.split(".")[:2])
    key = (major, minor)
    return ex.Release(name, ne_prefixes=key >= _PREFIXES_FROM, drop_supersets=key >= _SUPERSETS_FROM)


def flow_cost(
    match: Expr,
    scopes: Sequence[tuple[int, str] | Expr],
    release: Release | str | None = None,
    limit: int | None = None,
) -> ex.Cost:
    """The OpenFlow cost of ``match`` compiled at each scope, summed.

    A scope is ``(ports, scope field)`` or the compiled scope's parsed match
    (:func:`compiled_scopes`). With no scope (unknown) the match is priced
    alone, as with one port. Naming the costly term (of the service's match:
    the scope is not the service's doing) costs more than counting, so it is
    done only once the total is over ``limit`` (always when ``limit`` is None).
    """
    normaliser = expansion_release(release)
    priced = [s for s in scopes if not isinstance(s, tuple) or s[0] > 0] or [(1, "inport")]
    flows = conjunctions = 0
    capped = False
    for cost in ex.scope_costs(match, priced, release=normaliser):
        flows += cost.flows
        conjunctions += cost.conjunctions
        capped = capped or cost.capped
    flows, conjunctions = _sat(flows), _sat(conjunctions)
    capped = capped or flows >= ex.CAP
    term = ""
    if limit is None or flows > limit:
        term = ex.estimate(match, release=normaliser).worst_term
    return ex.Cost(flows, conjunctions, term, capped)


def compiled_scopes(
    topology: Topology, attachments: Iterable[tuple[str, str, str, str]], tenant: str
) -> dict[str, tuple[Expr, ...]]:
    """Attachment uuid -> its compiled scope on each datapath, parsed (one lflow per datapath).

    ``attachments`` are ``(uuid, target kind, target name, hook)``; the scope
    is the compiler's own (core/reach.py ``scope_match``), so a shared port
    tied to the tenant's addresses is priced as it is compiled. A target that
    does not resolve has no scope (yet).
    """
    found: dict[str, tuple[Expr, ...]] = {}
    for key, kind, name, hook_name in attachments:
        hook = HOOKS_BY_NAME.get(hook_name)
        try:
            scope = topology.scope(TargetKind(kind), name, tenant) if hook is not None else {}
        except (TargetError, ValueError):
            scope = {}
        texts = [
            scope_match(topology, hook, dp, ports, tenant) for dp, ports in sorted(scope.items()) if hook
        ]
        found[key] = tuple(_parsed(text) for text in texts if text is not None)
    return found


@lru_cache(maxsize=4096)
def _parsed(text: str) -> Expr:
    return parse_match_tree(text)


def _sat(n: int) -> int:
    return min(n, ex.CAP)


def over_limit(cost: ex.Cost, limit: int = DEFAULT_FLOW_LIMIT) -> str | None:
    """Why a flow of this cost is refused, or None."""
    if cost.flows <= limit:
        return None
    more = "at least " if cost.capped else ""
    term = f"; the costly term is `{cost.worst_term}`" if cost.worst_term else ""
    return (
        f"would make ovn-controller install {more}{cost.flows:,} OpenFlow flows on a chassis "
        f"(limit {limit:,}){term}: negated sets and ORs over several fields multiply; "
        "let the other values through with a higher-priority flow instead"
    )
