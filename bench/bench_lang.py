"""Parse + type-check + print 100k realistic ACL-like matches (~80 characters) on one core.

Baseline in the same run: json.loads of a JSON object of similar size, the
cheapest structured parse Python offers (a C parser), to give the figure a scale.
"""

from __future__ import annotations

import json
import random
import time

from ovn_inject.lang import Context, format_match, parse_match

N = 100_000


def realistic_matches(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        port = f"vm{rnd.randint(1, 500)}"
        ip = f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        proto = rnd.choice(["tcp", "udp"])
        ports = ", ".join(str(rnd.randint(1, 65535)) for _ in range(rnd.randint(1, 3)))
        shape = rnd.randint(0, 2)
        if shape == 0:
            out.append(f'outport == "{port}" && ip4 && ip4.src == {ip}/24 && {proto}.dst == {{{ports}}}')
        elif shape == 1:
            out.append(
                f'inport == "{port}" && ip4 && ip4.dst == $as{rnd.randint(1, 9)} && {proto}'
                " && ct.est && !ct.rel"
            )
        else:
            out.append(
                f"inport == @pg{rnd.randint(1, 9)} && ip4.src == {ip} && !ct.new && {proto}.src >= 1024"
            )
    return out


def main() -> None:
    matches = realistic_matches(N)
    context = Context(
        ports={f"vm{i}" for i in range(1, 501)},
        address_sets={f"as{i}" for i in range(1, 10)},
        port_groups={f"pg{i}" for i in range(1, 10)},
    )
    average = sum(map(len, matches)) / len(matches)
    start = time.perf_counter()
    for text in matches:
        format_match(parse_match(text, context))
    ours = time.perf_counter() - start
    documents = [json.dumps({"match": text, "priority": 1000, "n": i}) for i, text in enumerate(matches)]
    start = time.perf_counter()
    for doc in documents:
        json.loads(doc)
    baseline = time.perf_counter() - start
    print(f"lang: {N} matches, {average:.0f} chars average")
    print(f"  parse + type-check + print: {N / ours:,.0f} matches/s ({ours * 1e6 / N:.1f} us each)")
    print(f"  baseline json.loads of the same rows as JSON: {N / baseline:,.0f} docs/s")
    print(f"  ratio: {ours / baseline:.1f}x the time of json.loads (goal: >= 20,000 matches/s)")


if __name__ == "__main__":
    main()
