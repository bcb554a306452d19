"""Small containers shared by requests and responses: headers, query strings, cookies."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl

__all__ = ["Address", "Headers", "MutableHeaders", "PreparedHeaders", "QueryParams", "State", "parse_cookies", "prepare_headers"]


class Address(NamedTuple):
    """The peer of a connection."""

    host: str
    port: int


class Headers:
    """Read-only, case-insensitive, multi-valued HTTP headers.

    ``headers["content-type"]`` and ``headers.get(...)`` give the first value
    (joined with ", " where HTTP allows it is left to the caller via ``getlist``).
    Built from the raw ``(name, value)`` byte pairs h11 hands over; names are already
    lower-cased by the parser.
    """

    __slots__ = ("_dict", "_raw")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self._raw = list(raw)
        self._dict: dict[str, str] | None = None

    def _index(self) -> dict[str, str]:
        d = self._dict
        if d is None:
            d = {}
            for name, value in self._raw:
                key = name.decode("latin-1").lower()
                if key not in d:
                    d[key] = value.decode("latin-1")
            self._dict = d
        return d

    def get(self, name: str, default: Any = None) -> Any:
        d = self._dict
        if d is None:
            d = self._index()
        value = d.get(name)  # names are stored lower-cased: most callers already ask that way
        if value is None:
            value = d.get(name.lower(), default)
        return value

    def getlist(self, name: str) -> list[str]:
        key = name.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self._raw if k.lower() == key]

    def __getitem__(self, name: str) -> str:
        return self._index()[name.lower()]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        d = self._index()
        return name in d or name.lower() in d

    def __iter__(self) -> Iterator[str]:
        return iter(self._index())

    def __len__(self) -> int:
        return len(self._index())

    def keys(self) -> list[str]:
        return list(self._index())

    def items(self) -> list[tuple[str, str]]:
        """Every header as ``(name, value)``, repeated names included."""
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._raw]

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return self._raw

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted(self.items()) == sorted(other.items())
        if isinstance(other, dict):
            return self._index() == {k.lower(): v for k, v in other.items()}
        return NotImplemented

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


PreparedHeaders = dict[str, tuple[str, str]]
"""Header fields checked once, for :meth:`MutableHeaders.update_prepared`:
lower-cased name -> ``(name as spelled, value)``."""


def _check_field(name: str, value: str) -> None:
    if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
        raise ValueError(f"header {name!r} contains a line break")


def prepare_headers(fields: Any) -> PreparedHeaders:
    """Check ``fields`` (a mapping or ``(name, value)`` pairs) once, for repeated use.

    Middleware that adds the same headers to every response prepares them at start-up
    and merges them with :meth:`MutableHeaders.update_prepared`, a dict update instead of
    one checked ``headers[name] = value`` per field.
    """
    prepared: PreparedHeaders = {}
    for name, value in fields.items() if hasattr(fields, "items") else fields:
        value = value if isinstance(value, str) else str(value)
        _check_field(name, value)
        prepared[name.lower()] = (name, value)
    return prepared


class MutableHeaders(MutableMapping[str, str]):
    """Case-insensitive response headers that keep the caller's spelling.

    ``headers["X-A"] = "1"`` replaces; ``headers.add("Set-Cookie", ...)`` appends a
    repeated field.
    """

    __slots__ = ("_extra", "_store")

    def __init__(self, initial: Any = None) -> None:
        self._store: dict[str, tuple[str, str]] = {}
        self._extra: list[tuple[str, str]] = []
        if initial:
            items = initial.items() if hasattr(initial, "items") else initial
            for k, v in items:
                self[k] = v

    def __setitem__(self, name: str, value: str) -> None:
        if not isinstance(value, str):
            value = str(value)
        _check_field(name, value)
        key = name.lower()
        self._store[key] = (name, value)
        if self._extra:
            self._extra = [(n, v) for n, v in self._extra if n.lower() != key]

    def __getitem__(self, name: str) -> str:
        return self._store[name.lower()][1]

    def get(self, name: str, default: Any = None) -> Any:
        field = self._store.get(name) or self._store.get(name.lower())
        return default if field is None else field[1]

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        del self._store[key]
        self._extra = [(n, v) for n, v in self._extra if n.lower() != key]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._store.values())

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._store

    def add(self, name: str, value: str) -> None:
        """Append another field with this name (for Set-Cookie, Vary, Link)."""
        if name.lower() not in self._store:
            self[name] = value
        else:
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r} contains a line break")
            self._extra.append((name, value))

    def update_prepared(self, prepared: PreparedHeaders, *, replace: bool = True) -> None:
        """Merge fields from :func:`prepare_headers` (already checked).

        ``replace=True`` sets each field as ``headers[name] = value`` would; ``False`` only
        adds the fields not present yet (as ``setdefault``). Values built at run time go
        through ``prepare_headers`` too, unless they cannot hold a line break (numbers).
        """
        store = self._store
        if replace:
            store.update(prepared)
            if self._extra:
                self._extra = [(n, v) for n, v in self._extra if n.lower() not in prepared]
        elif store.keys().isdisjoint(prepared):
            store.update(prepared)
        else:
            for key, field in prepared.items():
                if key not in store:
                    store[key] = field

    def getlist(self, name: str) -> list[str]:
        key = name.lower()
        first = self._store.get(key)
        values = [first[1]] if first else []
        return values + [v for n, v in self._extra if n.lower() == key]

    def by_lowered_name(self) -> Mapping[str, tuple[str, str]]:
        """The first field of each name, by lower-cased name -> ``(name as spelled, value)``:
        the live mapping itself (read it, do not change it), for membership tests without a
        method call each (the response writer's)."""
        return self._store

    def raw_items(self) -> list[tuple[str, str]]:
        """All fields in order, repeated ones included."""
        return list(self._store.values()) + self._extra

    def __repr__(self) -> str:
        return f"MutableHeaders({self.raw_items()!r})"


class QueryParams:
    """Parsed query string: ``get`` gives the last value (like most frameworks), ``getlist`` all."""

    __slots__ = ("_dict", "_items")

    def __init__(self, query_string: str = "") -> None:
        self._items = parse_qsl(query_string, keep_blank_values=True) if query_string else []
        self._dict = dict(self._items)

    def get(self, key: str, default: Any = None) -> Any:
        return self._dict.get(key, default)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._items if k == key]

    def __getitem__(self, key: str) -> str:
        return self._dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def keys(self) -> list[str]:
        return list(self._dict)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def to_dict(self) -> dict[str, str]:
        return dict(self._dict)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):
            return self._dict == other
        if isinstance(other, QueryParams):
            return self._items == other._items
        return NotImplemented

    def __repr__(self) -> str:
        return f"QueryParams({self._items!r})"


class State:
    """An attribute bag for per-request (or per-app) data set by middleware."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"state has no attribute {name!r}; set it first (request.state.{name} = ...)")

    if TYPE_CHECKING:  # any attribute may be set; only type checkers need telling

        def __setattr__(self, name: str, value: Any) -> None: ...

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__

    def __repr__(self) -> str:
        return f"State({self.__dict__!r})"


def parse_cookies(header_values: Iterable[str]) -> dict[str, str]:
    """Cookie request headers to a dict; malformed pairs are skipped, not fatal."""
    cookies: dict[str, str] = {}
    for value in header_values:
        for chunk in value.split(";"):
            name, sep, val = chunk.partition("=")
            name = name.strip()
            if not sep or not name:
                continue
            val = val.strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                parsed = SimpleCookie()
                try:
                    parsed.load(f"{name}={val}")
                    val = parsed[name].value
                except Exception:  # noqa: BLE001 - a bad cookie is ignored
                    val = val[1:-1]
            cookies[name] = val
    return cookies
