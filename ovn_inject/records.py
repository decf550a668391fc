"""Dataclasses made without the dataclasses module's cost at import: for what a one-shot command defines.

``@dataclass`` compiles every method it writes with an exec of its own (six for
a frozen class) when the class is defined, and its module imports ``inspect``:
for the 49 classes that a ``flow-add``'s check defines (the language's tree,
the topology, the views of core.validate), that was a third of the command's
CPU, paid again by every call of a script (issue #15). :func:`record` makes the
same classes, for the options those use (``frozen``, ``eq``, ``slots``; fields
with a ``default``, a ``default_factory``, ``compare=False``): ``__init__``,
and ``__eq__`` with ``__hash__``, are dataclass's code, compiled once the class
calls them often (until then, functions every record shares do what they do);
the methods seldom called (``__repr__``, the frozen ``__setattr__``, pickling)
are functions every record shares.

A record is a dataclass to the dataclasses module: ``fields``, ``replace``,
``asdict`` and ``is_dataclass`` work on it, its ``__dataclass_fields__`` being
made (with that module) the first time anything asks for them. Its methods
behave as the generated ones: ``__init__`` with the fields as parameters in
order, ``__repr__`` naming every field, ``__eq__`` and ``__hash__`` over the
compared ones, ``dataclasses.FrozenInstanceError`` on assignment to a frozen
one, ``__match_args__``, and ``__slots__`` (pickled as dataclass pickles it).
tests/unit/test_records.py checks each against a dataclass of the same fields.
"""

from __future__ import annotations

import _thread  # reprlib's recursion guard without reprlib (and itertools): see _repr

TYPE_CHECKING = False  # typing's own import costs more than this module; mypy reads the imports below
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_: object) -> Any:
        return lambda function: function


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: No default (as dataclasses.MISSING).
MISSING: Any = _Missing()


class Field:
    """What :func:`field` says of one field; ``name`` and ``type`` are set by :func:`record`."""

    __slots__ = ("compare", "default", "default_factory", "name", "type")

    def __init__(self, default: Any, default_factory: Any, compare: bool) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.name = ""
        self.type: Any = None


def field(
    *, default: Any = MISSING, default_factory: Callable[[], Any] = MISSING, compare: bool = True
) -> Any:
    """A field's default (or the factory of each instance's) and whether ``==`` and hash compare it."""
    return Field(default, default_factory, compare)


@dataclass_transform(field_specifiers=(field,))
def record(
    cls: type[T] | None = None, /, *, frozen: bool = False, eq: bool = True, slots: bool = False
) -> Any:
    """``@dataclass`` with these options, made cheaply (see the module)."""

    def wrap(cls: type[T]) -> type[T]:
        return _make(cls, frozen, eq, slots)

    return wrap if cls is None else wrap(cls)


def replace(obj: T, /, **changes: Any) -> T:
    """``dataclasses.replace`` of a record, without importing dataclasses."""
    for spec in type(obj).__record_fields__:  # type: ignore[attr-defined]
        if spec.name not in changes:
            changes[spec.name] = getattr(obj, spec.name)
    return type(obj)(**changes)


def _make(cls: type[T], frozen: bool, eq: bool, slots: bool) -> type[T]:
    own = cls.__dict__
    specs = []
    for name, kind in own.get("__annotations__", {}).items():
        if isinstance(kind, str) and kind.startswith(("ClassVar", "typing.ClassVar", "InitVar", "KW_ONLY")):
            raise TypeError(f"{cls.__name__}.{name}: a record has no ClassVar, InitVar or KW_ONLY fields")
        spec = own.get(name, MISSING)
        if not isinstance(spec, Field):
            spec = Field(spec, MISSING, True)
        if spec.default is not MISSING and type(spec.default).__hash__ is None:
            raise ValueError(
                f"mutable default {type(spec.default)} for field {name} is not allowed: use default_factory"
            )
        spec.name, spec.type = name, kind
        specs.append(spec)
    for base in cls.__mro__[1:]:
        if "__record_fields__" in base.__dict__ or "__dataclass_fields__" in base.__dict__:
            raise TypeError(f"{cls.__name__}: a record does not inherit fields")
    names = tuple(s.name for s in specs)
    # As dataclass: a __hash__ the class defines itself is kept (not the None that defining __eq__ sets).
    keep_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    if slots:
        namespace = {k: v for k, v in own.items() if k not in names and k not in ("__dict__", "__weakref__")}
        namespace["__slots__"] = names
        metaclass: Any = type(cls)
        made = metaclass(cls.__name__, cls.__bases__, namespace)
        made.__qualname__ = cls.__qualname__
        cls = made
        own = cls.__dict__
    else:
        for spec in specs:
            if isinstance(own.get(spec.name), Field):
                if spec.default is MISSING:
                    delattr(cls, spec.name)
                else:
                    setattr(cls, spec.name, spec.default)
    methods: dict[str, Any] = {"__init__": _first_init, "__repr__": _repr}
    if eq:
        methods["__eq__"] = _first_eq
        # As dataclass: frozen and compared by value, hashed by value; mutable, unhashable.
        methods["__hash__"] = _first_hash if frozen else None
    if frozen:
        methods["__setattr__"] = _frozen_setattr
        methods["__delattr__"] = _frozen_delattr
        if slots:
            methods["__getstate__"] = _getstate
            methods["__setstate__"] = _setstate
    for name, function in methods.items():
        if name in ("__setattr__", "__delattr__") and name in own:
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
        if name == "__hash__":
            if not keep_hash:
                setattr(cls, name, function)
        elif name not in own:
            setattr(cls, name, function)
    if "__match_args__" not in own:
        setattr(cls, "__match_args__", names)  # noqa: B010 - mypy has the attribute read-only
    cls.__record_fields__ = tuple(specs)  # type: ignore[attr-defined]
    cls.__record_params__ = (frozen, eq)  # type: ignore[attr-defined]
    cls.__dataclass_fields__ = _AsDataclass("__dataclass_fields__")  # type: ignore[attr-defined]
    cls.__dataclass_params__ = _AsDataclass("__dataclass_params__")  # type: ignore[attr-defined]
    return cls


# __init__, and __eq__ with __hash__, are compiled when the class first uses them: a class
# that a command defines but never instantiates (most of the language's tree, for one flow)
# costs no compilation, nor do the comparisons of one never compared. Until then the class
# has these, which compile the class's own, put them in their place and call them.
#
# __init__ is compiled once the class has made COMPILE_AFTER instances: until then the shared
# one binds the arguments as the compiled one would. Compiling costs about 0.1 ms, what the
# shared one spends on some 50 instances; of the 31 classes a flow-add instantiates, 28 make
# fewer than 12 (compiling their __init__ was 3 of the 12 ms its check and write took).
# __eq__ and __hash__ likewise, after COMPILE_AFTER comparisons and hashes.

#: Instances a class makes with the shared __init__ before it compiles its own.
COMPILE_AFTER = 24
_MADE: dict[type, int] = {}


def _first_init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = _owner(self)
    made = _MADE.get(cls, 0)
    if made < COMPILE_AFTER and _shared_init(cls, self, args, kwargs):
        _MADE[cls] = made + 1
        return
    _compile(cls, "__init__")(self, *args, **kwargs)


def _shared_init(cls: Any, self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """What the compiled ``__init__`` does with these arguments; False, having done nothing, for
    a call it would refuse (the compiled one then words the TypeError)."""
    specs = cls.__record_fields__
    if len(args) > len(specs):
        return False
    values = list(args)
    named = 0
    for spec in specs[len(args) :]:
        if spec.name in kwargs:
            values.append(kwargs[spec.name])
            named += 1
        elif spec.default_factory is not MISSING:
            values.append(_FACTORY)
        elif spec.default is not MISSING:
            values.append(spec.default)
        else:
            return False  # a required argument is missing
    if named != len(kwargs):
        return False  # an unknown keyword, or one given positionally too
    setter = object.__setattr__ if cls.__record_params__[0] else setattr
    for spec, value in zip(specs, values, strict=True):
        setter(self, spec.name, spec.default_factory() if value is _FACTORY else value)
    return True


#: A field whose default_factory makes its value (in _shared_init).
_FACTORY: Any = _Missing()


def _first_eq(self: Any, other: Any) -> Any:
    cls = _owner(self)
    if _shared(cls):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _compared(cls, self) == _compared(cls, other)
    return _compile(cls, "__eq__")(self, other)


def _first_hash(self: Any) -> int:
    cls = _owner(self)
    if _shared(cls):
        return hash(_compared(cls, self))
    result: int = _compile(cls, "__hash__")(self)
    return result


#: Comparisons and hashes, as instances for __init__, before a class compiles __eq__ and __hash__.
_COMPARED: dict[type, int] = {}


def _shared(cls: type) -> bool:
    """Whether this comparison (or hash) of ``cls`` is one of those done before compiling."""
    done = _COMPARED.get(cls, 0)
    _COMPARED[cls] = done + 1
    return done < COMPILE_AFTER


def _compared(cls: Any, obj: Any) -> tuple[Any, ...]:
    """The tuple the compiled ``__eq__`` compares and the compiled ``__hash__`` hashes."""
    return tuple(getattr(obj, s.name) for s in cls.__record_fields__ if s.compare)


_FIRST = (_first_init, _first_eq, _first_hash)


def _compile(cls: Any, name: str) -> Callable[..., Any]:
    """The class's compiled ``name`` (with ``__hash__`` for ``__eq__`` and the reverse), set in place."""
    frozen, _ = cls.__record_params__
    specs = list(cls.__record_fields__)
    made = _compiled_init(cls, specs, frozen) if name == "__init__" else _compiled_eq(cls, specs, frozen)
    for method, function in made.items():
        if cls.__dict__.get(method) in _FIRST:
            setattr(cls, method, function)
    found: Callable[..., Any] = cls.__dict__[name]
    return found


def _compiled_init(cls: type, specs: list[Field], frozen: bool) -> dict[str, Callable[..., Any]]:
    """dataclass's ``__init__``: the fields as parameters, stored in order (through
    ``object.__setattr__`` when frozen: a slot's own ``__set__``, which is what that calls), a default_factory
    called when its field is not given."""
    given: dict[str, Any] = {"__missing": MISSING, "__setter": object.__setattr__}
    params, body = [], []
    for spec in specs:
        value = spec.name
        if spec.default_factory is not MISSING:
            given[f"__factory_{spec.name}"] = spec.default_factory
            params.append(f"{spec.name}=__missing")
            value = f"__factory_{spec.name}() if {spec.name} is __missing else {spec.name}"
        elif spec.default is not MISSING:
            given[f"__default_{spec.name}"] = spec.default
            params.append(f"{spec.name}=__default_{spec.name}")
        else:
            params.append(spec.name)
        slot = _slot_setter(cls, spec.name) if frozen else None
        if slot is not None:
            given[f"__set_{spec.name}"] = slot
            body.append(f"  __set_{spec.name}(self, {value})")
        else:
            body.append(
                f"  __setter(self, {spec.name!r}, {value})" if frozen else f"  self.{spec.name} = {value}"
            )
    return _made(cls, given, [f" def __init__(self, {', '.join(params)}):", *(body or ["  pass"])])


def _slot_setter(cls: type, name: str) -> Callable[[Any, Any], None] | None:
    """The ``__set__`` of the slot ``object.__setattr__(self, name, value)`` stores into, if a slot:
    called directly, it does the same without looking the name up (a frozen record's fields)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            found = klass.__dict__[name]
            return found.__set__ if type(found) is _MEMBER_DESCRIPTOR else None
    return None


class _Slotted:
    __slots__ = ("slot",)


#: The type of a slot's descriptor (types.MemberDescriptorType, without importing types).
_MEMBER_DESCRIPTOR = type(_Slotted.__dict__["slot"])


def _compiled_eq(cls: type, specs: list[Field], frozen: bool) -> dict[str, Callable[..., Any]]:
    """dataclass's ``__eq__`` (and, frozen, ``__hash__``): over the tuple of the compared fields."""
    mine = "".join(f"self.{s.name}," for s in specs if s.compare)
    theirs = "".join(f"other.{s.name}," for s in specs if s.compare)
    lines = [
        " def __eq__(self, other):",
        "  if other.__class__ is self.__class__:",
        f"   return ({mine}) == ({theirs})",
        "  return NotImplemented",
    ]
    if frozen:
        lines += [" def __hash__(self):", f"  return hash(({mine}))"]
    return _made(cls, {}, lines)


#: The compiled factory of each text: classes of the same fields share it.
_FACTORIES: dict[str, Callable[..., Any]] = {}


def _made(cls: type, given: dict[str, Any], lines: list[str]) -> dict[str, Callable[..., Any]]:
    """The functions ``lines`` define (``given``: the names they use), compiled once per text."""
    names = [line.split("(")[0].removeprefix(" def ") for line in lines if line.startswith(" def ")]
    source = "\n".join([f"def __make__({', '.join(given)}):", *lines, f" return {', '.join(names)},"])
    factory = _FACTORIES.get(source)
    if factory is None:
        scope: dict[str, Any] = {}
        exec(source, {"__builtins__": __builtins__}, scope)  # the text is ours
        factory = _FACTORIES[source] = scope["__make__"]
    functions = dict(zip(names, factory(**given), strict=True))
    for function in functions.values():
        function.__qualname__ = f"{cls.__qualname__}.{function.__name__}"
        function.__module__ = cls.__module__
    return functions


# The other methods, seldom called, are the same for every record: they read the class's fields.


#: (id, thread) of the records whose repr is being made: one met again inside its own is "...".
_IN_REPR: set[tuple[int, int]] = set()


def _repr(self: Any) -> str:
    """dataclass's repr, ``reprlib.recursive_repr``'s guard included."""
    key = (id(self), _thread.get_ident())
    if key in _IN_REPR:
        return "..."
    _IN_REPR.add(key)
    try:
        shown = ", ".join(f"{s.name}={getattr(self, s.name)!r}" for s in self.__record_fields__)
    finally:
        _IN_REPR.discard(key)
    return f"{self.__class__.__qualname__}({shown})"


def _owner(self: Any) -> type:
    """The record class whose methods ``self`` has (``type(self)``, or the record it derives from)."""
    return next(c for c in type(self).__mro__ if "__record_fields__" in c.__dict__)


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    cls: Any = _owner(self)
    if type(self) is cls or name in (s.name for s in cls.__record_fields__):
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r}")
    super(cls, self).__setattr__(name, value)


def _frozen_delattr(self: Any, name: str) -> None:
    cls: Any = _owner(self)
    if type(self) is cls or name in (s.name for s in cls.__record_fields__):
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")
    super(cls, self).__delattr__(name)


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, s.name) for s in self.__record_fields__]


def _setstate(self: Any, state: list[Any]) -> None:
    for spec, value in zip(self.__record_fields__, state, strict=False):
        object.__setattr__(self, spec.name, value)


class _AsDataclass:
    """``__dataclass_fields__`` (or ``__dataclass_params__``) of a record, made when first read.

    Made by the dataclasses module itself, from a class with the same fields: what
    ``fields()``, ``replace()`` and ``asdict()`` read is what they read of a dataclass.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type) -> Any:
        import dataclasses

        frozen, eq = owner.__record_params__  # type: ignore[attr-defined]
        namespace: dict[str, Any] = {
            "__annotations__": {s.name: s.type for s in owner.__record_fields__},  # type: ignore[attr-defined]
            "__module__": owner.__module__,
            "__qualname__": owner.__qualname__,
        }
        for spec in owner.__record_fields__:  # type: ignore[attr-defined]
            given = {"default": spec.default, "default_factory": spec.default_factory}
            namespace[spec.name] = dataclasses.field(
                **{k: v for k, v in given.items() if v is not MISSING}, compare=spec.compare
            )
        twin: Any = dataclasses.dataclass(frozen=frozen, eq=eq)(type(owner.__name__, (), namespace))
        type.__setattr__(owner, "__dataclass_fields__", twin.__dataclass_fields__)
        type.__setattr__(owner, "__dataclass_params__", twin.__dataclass_params__)
        return getattr(owner, self.name)
