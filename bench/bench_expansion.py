"""The cost of the OpenFlow expansion bound: matches per second with and without it.

Baseline in the same process: parse + type-check of the same matches (what
validation does today); then parse + type-check + estimate and the compiled
form (3 scope ports). Printed as ratios, so runs on different machines compare.
The matches are bench_lang's realistic ACL-like ones plus 1 in 10 with a
negated set or a port range (the shapes the bound is there for).
"""

from __future__ import annotations

import random
import time

from bench_lang import realistic_matches

from ovn_inject.lang import Context, compiled_cost, estimate, parse_match

N = 20_000
PORTS = ["vm1", "vm2", "vm3"]


def matches(n: int, seed: int = 2) -> list[str]:
    rnd = random.Random(seed)
    out = realistic_matches(n, seed)
    for i in range(0, n, 10):
        a, b = rnd.randint(1, 254), rnd.randint(1, 254)
        low = rnd.randint(1, 60000)
        out[i] = rnd.choice(
            [
                f"ip4.src != {{10.0.0.{a}, 10.0.0.{b}}} && tcp",
                f"ip4 && {low} <= tcp.dst <= {low + rnd.randint(1, 5000)}",
                f"!(ip4.dst == {{10.1.0.0/16, 10.2.{a}.0/24}}) && udp.dst == 53",
            ]
        )
    return out


def run(texts: list[str], context: Context, mode: str) -> float:
    start = time.perf_counter()
    for text in texts:
        tree = parse_match(text, context)
        if mode == "estimate":
            estimate(tree)
        elif mode == "compiled":
            compiled_cost(tree, PORTS)
    return time.perf_counter() - start


def main() -> None:
    texts = matches(N)
    context = Context(
        ports={f"vm{i}" for i in range(1, 501)},
        address_sets={f"as{i}" for i in range(1, 10)},
        port_groups={f"pg{i}" for i in range(1, 10)},
    )
    run(texts[:1000], context, "estimate")  # warm the predicate/prerequisite caches
    base = run(texts, context, "parse")
    print(f"expansion: {N} matches (1 in 10 negated set or range)")
    print(f"  parse + type-check (baseline): {N / base:,.0f} matches/s")
    for mode in ("estimate", "compiled"):
        took = run(texts, context, mode)
        label = "+ estimate" if mode == "estimate" else "+ compiled_cost (3 ports)"
        print(f"  parse + type-check {label}: {N / took:,.0f} matches/s, {base / took:.2f}x the baseline")


if __name__ == "__main__":
    main()
