"""Nodes of parsed matches and actions: frozen, comparable, hashable.

``pos`` (1-based column in the source text, 0 for nodes built in code) is kept
out of equality so that ``parse(print(tree)) == tree`` compares meaning only.
"""

from __future__ import annotations

from ovn_inject.records import field as dc_field
from ovn_inject.records import record

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Literal

    IntFormat = Literal["dec", "hex", "ipv4", "ipv6", "mac"]
else:
    IntFormat = str


# ---- constants -------------------------------------------------------------


@record(frozen=True, slots=True)
class Integer:
    """An integer constant in one of OVN's notations; ``mask`` None means exact."""

    value: int
    fmt: IntFormat = "dec"
    mask: int | None = None


@record(frozen=True, slots=True)
class String:
    value: str


@record(frozen=True, slots=True)
class AddressSetRef:
    """``$name``: stands for the set of addresses in NB Address_Set ``name``."""

    name: str


@record(frozen=True, slots=True)
class PortGroupRef:
    """``@name``: stands for the set of port names in NB Port_Group ``name``."""

    name: str


Constant = Integer | String | AddressSetRef | PortGroupRef


# ---- match expressions -----------------------------------------------------


@record(frozen=True, slots=True)
class FieldRef:
    """A field or subfield ``name[low..high]``; low/high None means the whole field."""

    name: str
    low: int | None = None
    high: int | None = None
    pos: int = dc_field(default=0, compare=False)

    @property
    def is_subfield(self) -> bool:
        return self.low is not None


@record(frozen=True, slots=True)
class Comparison:
    """``field OP constant`` or ``field OP {c1, c2, ...}`` (``in_set``)."""

    field: FieldRef
    op: str  # == != < <= > >=
    values: tuple[Constant, ...]
    in_set: bool = False
    pos: int = dc_field(default=0, compare=False)
    value_pos: tuple[int, ...] = dc_field(default=(), compare=False)  # column of each value


@record(frozen=True, slots=True)
class Test:
    """A field used bare, as a boolean: ``tcp``, ``ct.est``, ``reg0[3]``."""

    field: FieldRef
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class Bool:
    """The literal ``1`` (true) or ``0`` (false)."""

    value: bool
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class ChassisResident:
    """``is_chassis_resident("port")``."""

    port: str
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class Not:
    operand: Expr
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]
    pos: int = dc_field(default=0, compare=False)


Expr = Comparison | Test | Bool | ChassisResident | Not | And | Or


# ---- actions -----------------------------------------------------------------


@record(frozen=True, slots=True)
class Drop:
    """``drop;`` (only ever alone in its block)."""

    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class Next:
    """``next;``, ``next(N);`` or ``next(pipeline=P, table=N);`` (None = as written: absent)."""

    table: int | None = None
    pipeline: Literal["ingress", "egress"] | None = None
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class Output:
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class DecTtl:
    """``ip.ttl--;``."""

    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class Load:
    """``field = constant;``."""

    dst: FieldRef
    value: Integer | String
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class Move:
    """``field = field;``."""

    dst: FieldRef
    src: FieldRef
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class Exchange:
    """``field <-> field;``."""

    a: FieldRef
    b: FieldRef
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class Clone:
    """``clone { ... };``."""

    body: Actions
    pos: int = dc_field(default=0, compare=False)


@record(frozen=True, slots=True)
class Generic:
    """Any other action, recognised by name: ``ct_commit { ... };``, ``log(...);``, ``ct_lb_mark(...);``.

    ``args`` holds the source words between the parentheses (None: no
    parentheses), ``body`` the nested block (None: no block), so that the
    printer gives back text OVN accepts; ``result`` is set for actions of the
    form ``field = name(args);`` (``reg0[0] = check_in_port_sec();``).
    """

    name: str
    args: tuple[str, ...] | None = None
    body: Actions | None = None
    result: FieldRef | None = None
    pos: int = dc_field(default=0, compare=False)


Action = Drop | Next | Output | DecTtl | Load | Move | Exchange | Clone | Generic


@record(frozen=True, slots=True)
class Actions:
    items: tuple[Action, ...] = ()
    pos: int = dc_field(default=0, compare=False)
