"""Parser of OVN actions (after parse_actions/parse_action in lib/actions.c).

The actions the compiler and gateway emit are modelled fully (drop, next,
output, ip.ttl--, assignments, exchange, clone). Every other action the
release knows (:mod:`releases`) is recognised by name and parsed into
:class:`Generic`, keeping its parenthesised words and nested block so the
printer can give it back.
"""

from __future__ import annotations

from ovn_inject.lang import releases
from ovn_inject.lang.ast import (
    Action,
    Actions,
    Clone,
    DecTtl,
    Drop,
    Exchange,
    Generic,
    Integer,
    Load,
    Move,
    Next,
    Output,
    String,
)
from ovn_inject.lang.match_parser import TokenStream
from ovn_inject.lang.releases import BASE_ACTIONS, BASE_FUNCTIONS
from ovn_inject.lang.typecheck import Checker, Context, field_width, unknown

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Literal, NoReturn

#: OVN 23.03's generic actions and functions; every release's are in :mod:`releases`.
GENERIC_ACTIONS = BASE_ACTIONS
RESULT_ACTIONS = BASE_FUNCTIONS

MAX_NESTED_DEPTH = 32
_WORDY = frozenset(("id", "int", "str", "as", "pg"))


class ActionParser(TokenStream):
    def __init__(self, text: str, context: Context | None) -> None:
        self.checker = Checker(context, text)
        super().__init__(text, self.checker.release)
        self.pipeline = self.checker.context.pipeline
        self.depth = 0

    def parse(self) -> Actions:
        return self.block("end", "default")

    def block(self, sentinel: str, scope: str) -> Actions:
        tokens = self.tokens
        start = tokens[self.i][2]
        first, second = tokens[self.i], tokens[self.i + 1]
        if first[0] == "id" and first[1] == "drop" and second[0] == ";":
            self.i += 2
            if tokens[self.i][0] != sentinel:
                self.fail("'drop;' cannot be combined with other actions", first)
            self.i += 1
            return Actions((Drop(pos=first[2]),), pos=start)
        items: list[Action] = []
        while tokens[self.i][0] != sentinel:
            items.append(self.action(scope))
        self.i += 1
        return Actions(tuple(items), pos=start)

    def action(self, scope: str) -> Action:
        token = self.tokens[self.i]
        if token[0] != "id":
            self.expected("an action")
        name, pos = token[1], token[2]
        nxt = self.tokens[self.i + 1][0]
        action: Action
        if scope == "ct_commit" and nxt not in ("=", "<->", "["):
            # stricter than OVN: 23.03 accepts e.g. 'ct_commit { next; };', but OVS refuses the
            # resulting ct() action (OFPBAC_BAD_ARGUMENT) and ovn-controller stops catching up
            self.fail("only assignments to ct_mark and ct_label are allowed inside ct_commit { }", token)
        if nxt in ("=", "<->", "["):
            action = self.assignment(scope)
        elif name == "next":
            self.i += 1
            action = self.next_action(pos)
        elif name == "output":
            self.i += 1
            action = Output(pos=pos)
        elif name == "ip.ttl":
            self.i += 1
            self.expect("--", "'--' (ip.ttl--; decrements the TTL)")
            action = DecTtl(pos=pos)
        elif name == "clone":
            self.i += 1
            action = Clone(self.nested("default"), pos=pos)
        elif name in self.release.actions:
            self.i += 1
            action = self.generic(name, scope, pos)
        elif name == "drop":
            if self.tokens[self.i + 1][0] != ";":
                self.i += 1
                self.expect(";", "';' after an action")
            self.fail("'drop;' cannot be combined with other actions", token)
        else:
            self.fail(unknown("action", name, self.release), token, releases.where_known("action", name))
        self.expect(";", "';' after an action")
        return action

    def nested(self, scope: str) -> Actions:
        self.expect("{")
        if self.depth + 1 >= MAX_NESTED_DEPTH:
            self.fail("actions nested too deeply")
        self.depth += 1
        body = self.block("}", scope)
        self.depth -= 1
        return body

    def next_action(self, pos: int) -> Next:
        if self.tokens[self.i][0] != "(":
            return Next(pos=pos)
        self.i += 1
        table: int | None = None
        pipeline: Literal["ingress", "egress"] | None = None
        token = self.tokens[self.i]
        if token[0] == "int" and token[1].fmt == "dec" and token[1].mask is None:
            table = self.small_int("a table number")
        else:
            while True:
                key = self.expect("id", "'pipeline' or 'table'")
                self.expect("=")
                if key[1] == "pipeline":
                    value = self.expect("id", "'ingress' or 'egress'")
                    if value[1] not in ("ingress", "egress"):
                        self.fail("expected 'ingress' or 'egress'", value)
                    pipeline = value[1]
                elif key[1] == "table":
                    table = self.small_int("a table number")
                else:
                    self.fail(f"expected 'pipeline' or 'table', found '{key[1]}'", key)
                if self.tokens[self.i][0] != ",":
                    break
                self.i += 1
        self.expect(")")
        limit = self.release.tables(pipeline or self.pipeline)
        if table is not None and table >= limit:
            self.fail_at(f"'next' cannot advance beyond table {limit - 1} in OVN {self.release.name}", pos)
        return Next(table, pipeline, pos=pos)

    def fail_at(self, reason: str, pos: int) -> NoReturn:
        self.fail(reason, ("", None, pos))

    def assignment(self, scope: str) -> Action:
        pos = self.tokens[self.i][2]
        dst = self.parse_field()
        op = self.tokens[self.i]
        if op[0] == "<->":
            self.i += 1
            src = self.parse_field()
            self.checker.move(dst, src, True, scope, pos)
            return Exchange(dst, src, pos=pos)
        if op[0] != "=":
            self.expected("'=' or '<->'")
        self.i += 1
        token = self.tokens[self.i]
        if token[0] == "id":
            if self.tokens[self.i + 1][0] == "(":
                if token[1] not in self.release.functions:
                    self.fail(
                        unknown("function", token[1], self.release),
                        token,
                        releases.where_known("function", token[1]),
                    )
                self.i += 1
                args = self.arguments()
                symbol = self.checker.symbol(dst)
                self.checker.writable(dst, symbol, scope)
                from ovn_inject.lang import action_args  # tables of no use to next;, drop; or a move

                problem = action_args.check_result(
                    token[1], field_width(dst, symbol), args, self.release.symbols, self.release.features
                )
                if problem:
                    self.fail(problem, token)
                return Generic(token[1], args, None, dst, pos=pos)
            src = self.parse_field()
            self.checker.move(dst, src, False, scope, pos)
            return Move(dst, src, pos=pos)
        value: Integer | String
        if token[0] == "int":
            value = token[1]
        elif token[0] == "str":
            value = String(token[1])
        else:
            self.expected("a constant or a field")
        self.i += 1
        self.checker.load(dst, value, scope, token[2])
        return Load(dst, value, pos=pos)

    def generic(self, name: str, scope: str, pos: int) -> Generic:
        parens, block, inner = self.release.actions[name]
        args: tuple[str, ...] | None = None
        body: Actions | None = None
        has_parens = self.tokens[self.i][0] == "("
        if parens == "required" and not has_parens:
            self.expected(f"'(' after {name}")
        if has_parens and parens != "none":
            args = self.arguments()
        has_block = self.tokens[self.i][0] == "{"
        if block == "required" and not has_block:
            self.expected(f"'{{' after {name}")
        if has_block and block is not None:
            body = self.nested(scope if inner == "inherit" else inner)
        from ovn_inject.lang import action_args  # tables of no use to next;, drop; or a move

        problem = action_args.check_generic(name, args, self.release)
        if problem:
            self.fail_at(problem, pos)
        return Generic(name, args, body, pos=pos)

    def arguments(self) -> tuple[str, ...]:
        """The source words between balanced parentheses, checked for balance only."""
        self.expect("(")
        words: list[str] = []
        stack = [")"]
        text = self.text
        tokens = self.tokens
        while True:
            token = tokens[self.i]
            kind = token[0]
            if kind == "end":
                self.expected(f"'{stack[-1]}'")
            self.i += 1
            if kind in ("(", "[", "{"):
                stack.append({"(": ")", "[": "]", "{": "}"}[kind])
            elif kind in (")", "]", "}"):
                if kind != stack[-1]:
                    self.fail(f"expected '{stack[-1]}', found '{kind}'", token)
                stack.pop()
                if not stack:
                    return tuple(words)
            start = token[2] - 1
            end = tokens[self.i][2] - 1
            words.append(text[start:end].rstrip() if kind in _WORDY else kind)


def parse_actions_tree(text: str, context: Context | None = None) -> Actions:
    return ActionParser(text, context).parse()
