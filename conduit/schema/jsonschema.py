"""JSON Schema (draft 2020-12, as OpenAPI 3.1 and MCP use) from Python type hints.

:class:`SchemaBuilder` writes one schema an annotation, a small method a kind of type
(:func:`conduit.schema.kind_of`). Named types (dataclasses, TypedDicts, pydantic models) are
written inline, or, given a ``defs`` dict, once each into it and referred to by ``$ref``
(``#/components/schemas/<Name>`` for OpenAPI). A subclass changes how a named type is
described (:meth:`SchemaBuilder.describe`) or how an Enum is written
(:meth:`SchemaBuilder.enum_schema`).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from conduit.schema._constraints import constraints_of, schema_keywords
from conduit.schema._types import (
    NONE_TYPE,
    NOT_JSON,
    SCALARS,
    SET_TYPES,
    SchemaError,
    dataclass_fields,
    json_default,
    json_kind,
    kind_of,
    type_hints,
    typeddict_fields,
)

__all__ = ["SchemaBuilder", "type_schema", "values_schema"]

_Build = Callable[[Any, str, str], dict[str, Any]]


def type_schema(tp: Any, *, strict: bool = False) -> dict[str, Any]:
    """The JSON Schema of ``tp``, named types inline (see :class:`SchemaBuilder`)."""
    return SchemaBuilder(strict=strict).schema(tp)


class SchemaBuilder:
    """Turns type annotations into JSON Schemas.

    ``defs``: where named types go (``ref_prefix`` + name refers to one); None writes them
    inline, and then a type that refers to itself raises :class:`SchemaError`.
    ``strict``: a type with no JSON form (``bytes``, a plain class, ``dict[int, ...]``) raises
    :class:`SchemaError` naming ``where``; otherwise it gets ``{}`` (any value), ``bytes`` a string.
    ``mode`` (of :meth:`schema`): ``"validation"`` describes what a client sends,
    ``"serialization"`` what it receives; they differ for pydantic models with computed fields
    and dataclasses with ``init=False`` fields, which then get a second ``<Name>Output`` definition.
    """

    def __init__(self, defs: dict[str, Any] | None = None, *, ref_prefix: str = "#/$defs/", strict: bool = False) -> None:
        self.defs = defs
        self.ref_prefix = ref_prefix
        self.strict = strict
        self.names: dict[tuple[Any, str], str] = {}  # (type, mode) -> its name in defs
        self._inlining: list[Any] = []
        self._builders: dict[str, _Build] = {
            "any": lambda tp, where, mode: {},
            "null": lambda tp, where, mode: {"type": "null"},
            "raw": lambda tp, where, mode: copy.deepcopy(dict(tp)),
            "scalar": lambda tp, where, mode: dict(SCALARS[tp]),
            "bytes": self._bytes,
            "newtype": lambda tp, where, mode: self.schema(tp.__supertype__, where, mode),
            "annotated": self._annotated,
            "required": lambda tp, where, mode: self.schema(typing.get_args(tp)[0], where, mode),
            "union": self._union,
            "literal": lambda tp, where, mode: values_schema(list(typing.get_args(tp))),
            "enum": lambda tp, where, mode: self.enum_schema(tp),
            "tuple": self._tuple,
            "array": self._array,
            "mapping": self._mapping,
            "dataclass": lambda tp, where, mode: self._named(tp, where, _dataclass_mode(tp, mode), self._dataclass),
            "typeddict": lambda tp, where, mode: self._named(tp, where, "validation", self._typeddict),
            "model": self._model,
            "unknown": self._unknown,
        }

    def schema(self, tp: Any, where: str = "value", mode: str = "validation") -> dict[str, Any]:
        """The JSON Schema of ``tp`` (a new dict); ``where`` names it in error messages."""
        return self._builders[kind_of(tp)](tp, where, mode)

    # --- what a subclass may change ------------------------------------------------------------

    def describe(self, tp: type) -> tuple[str | None, Mapping[str, str]]:
        """A named type's description and its fields' (``{name: text}``).

        Here: the docstring (not a dataclass's generated signature) and each dataclass
        field's ``metadata["description"]``.
        """
        doc = inspect.cleandoc(tp.__doc__ or "")
        if doc.startswith(f"{tp.__name__}("):
            doc = ""
        fields: dict[str, str] = {}
        if dataclasses.is_dataclass(tp):
            fields = {f.name: str(f.metadata["description"]) for f in dataclasses.fields(tp) if f.metadata.get("description")}
        return doc or None, fields

    def enum_schema(self, tp: type[enum.Enum]) -> dict[str, Any]:
        """An Enum's schema: its members' values."""
        return values_schema([member.value for member in tp])

    # --- one kind each ---------------------------------------------------------------------------

    def _refuse(self, tp: Any, where: str) -> dict[str, Any]:
        if self.strict:
            raise SchemaError(
                f"{where} has type {_name(tp)}, which has no JSON Schema; use str, int, float, bool, "
                "list[...], dict[str, ...], Optional, Literal, an Enum, a dataclass or a TypedDict"
            )
        return {}

    def _unknown(self, tp: Any, where: str, mode: str) -> dict[str, Any]:
        return self._refuse(tp, where)

    def _bytes(self, tp: Any, where: str, mode: str) -> dict[str, Any]:
        # JSON has no bytes: a document may call them a string (a body); a strict caller refuses them.
        return self._refuse(tp, where) or {"type": "string"}

    def _annotated(self, tp: Any, where: str, mode: str) -> dict[str, Any]:
        base, *metadata = typing.get_args(tp)
        schema = self.schema(base, where, mode)
        for extra in metadata:
            if isinstance(extra, Mapping):  # a JSON Schema fragment: {"minimum": 0}
                schema.update(copy.deepcopy(dict(extra)))
        schema.update(schema_keywords(constraints_of(metadata), _main_type(schema)))
        texts = [extra for extra in metadata if isinstance(extra, str)]
        if texts:
            schema["description"] = " ".join(texts)
        return schema

    def _union(self, tp: Any, where: str, mode: str) -> dict[str, Any]:
        args = typing.get_args(tp)
        nullable = any(arg in (None, NONE_TYPE) for arg in args)
        schemas = [self.schema(arg, where, mode) for arg in args if arg not in (None, NONE_TYPE)]
        if {} in schemas:
            return {}
        simple = [s["type"] for s in schemas if set(s) == {"type"} and isinstance(s["type"], str)]
        if len(simple) == len(schemas):
            kinds = list(dict.fromkeys(simple + (["null"] if nullable else [])))
            return {"type": kinds[0] if len(kinds) == 1 else kinds}
        if nullable:
            schemas.append({"type": "null"})
        return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}

    def _tuple(self, tp: Any, where: str, mode: str) -> dict[str, Any]:
        args = typing.get_args(tp)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return {"type": "array", **({"items": self.schema(args[0], f"{where} items", mode)} if args else {})}
        items = [self.schema(arg, f"{where} item {i}", mode) for i, arg in enumerate(args)]
        return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}

    def _array(self, tp: Any, where: str, mode: str) -> dict[str, Any]:
        args = typing.get_args(tp)
        schema: dict[str, Any] = {"type": "array"}
        if args:
            schema["items"] = self.schema(args[0], f"{where} items", mode)
        if (typing.get_origin(tp) or tp) in SET_TYPES:
            schema["uniqueItems"] = True
        return schema

    def _mapping(self, tp: Any, where: str, mode: str) -> dict[str, Any]:
        args = typing.get_args(tp)
        if self.strict and args and args[0] not in (str, Any):
            raise SchemaError(f"{where}: JSON object keys are strings; use dict[str, ...], not {_name(tp)}")
        schema: dict[str, Any] = {"type": "object"}
        if len(args) == 2 and args[1] not in (Any, object):
            schema["additionalProperties"] = self.schema(args[1], f"{where} values", mode)
        return schema

    # --- named types -------------------------------------------------------------------------------

    def _named(self, tp: type, where: str, mode: str, build: _Build) -> dict[str, Any]:
        if self.defs is None:
            return self._inline(tp, where, mode, build)
        key = (tp, mode)
        if key not in self.names:
            base = tp.__name__ if mode == "validation" else f"{tp.__name__}Output"
            name = self._reserve(key, base)
            schema = build(tp, where, mode)
            if name != base and self.defs.get(base) == schema:
                del self.defs[name]  # the same type, put there by an earlier builder
                self.names[key] = base
            else:
                self.defs[name] = schema
        return {"$ref": self.ref_prefix + self.names[key]}

    def _inline(self, tp: type, where: str, mode: str, build: _Build) -> dict[str, Any]:
        if tp in self._inlining:
            raise SchemaError(f"{where}: {tp.__name__} refers to itself; recursive types have no inline schema")
        self._inlining.append(tp)
        try:
            return build(tp, where, mode)
        finally:
            self._inlining.pop()

    def _reserve(self, key: tuple[Any, str], name: str) -> str:
        """A free name for ``key``, held by a placeholder that recursive types refer to while built."""
        assert self.defs is not None
        candidate, n = name, 2
        while candidate in self.defs:
            candidate, n = f"{name}{n}", n + 1
        self.names[key] = candidate
        self.defs[candidate] = {}
        return candidate

    def _dataclass(self, tp: type, where: str, mode: str) -> dict[str, Any]:
        hints = type_hints(tp, strict=self.strict)
        description, docs = self.describe(tp)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in dataclass_fields(tp, mode):
            prop = self.schema(hints.get(f.name, Any), f"{where} field {f.name!r}", mode)
            _set_description(prop, docs.get(f.name))
            if f.default is not dataclasses.MISSING:
                _set_default(prop, f.default)
            elif f.default_factory is dataclasses.MISSING:
                required.append(f.name)
            properties[f.name] = prop
        return _object(tp, properties, required, description)

    def _typeddict(self, tp: type, where: str, mode: str) -> dict[str, Any]:
        fields, required = typeddict_fields(tp, strict=self.strict)
        description, docs = self.describe(tp)
        properties = {key: self.schema(hint, f"{where} key {key!r}", mode) for key, hint in fields.items()}
        for key, prop in properties.items():
            _set_description(prop, docs.get(key))
        return _object(tp, properties, required, description)

    # --- pydantic models, through their own model_json_schema -------------------------------------

    def _model(self, tp: Any, where: str, mode: str) -> dict[str, Any]:
        if self.defs is None:
            return dict(tp.model_json_schema(mode=mode))
        return {"$ref": self.ref_prefix + self._model_name(tp, mode)}

    def _model_name(self, tp: Any, mode: str) -> str:
        """A model's request (validation) schema is ``Name``; its response (serialization) schema,
        where that differs (computed fields...), ``NameOutput``."""
        assert self.defs is not None
        key = (tp, mode)
        if key not in self.names:
            raw = self._model_raw(tp, mode)
            if mode != "validation" and raw == self._model_raw(tp, "validation"):
                self.names[key] = self._model_name(tp, "validation")
            elif set(raw) == {"$ref"}:  # a recursive model: pydantic put it in $defs
                self.names[key] = raw["$ref"].rsplit("/", 1)[-1]
            else:
                base = tp.__name__ if mode == "validation" else f"{tp.__name__}Output"
                if self.defs.get(base) == raw:  # already there, nested in a model seen before
                    self.names[key] = base
                else:
                    self.defs[self._reserve(key, base)] = raw
        return self.names[key]

    def _model_raw(self, tp: Any, mode: str) -> dict[str, Any]:
        """The model's schema with its nested models moved into ``defs`` (renamed on a clash)."""
        assert self.defs is not None
        raw: dict[str, Any] = tp.model_json_schema(ref_template=self.ref_prefix + "{model}", mode=mode)
        nested = raw.pop("$defs", {})
        renames: dict[str, str] = {}
        for n, s in nested.items():
            target, k = n, 2
            while target in self.defs and self.defs[target] != self._rename_refs(s, renames | {n: target}):
                target, k = f"{n}{k}", k + 1
            renames[n] = target
        for n, s in nested.items():
            self.defs[renames[n]] = self._rename_refs(s, renames)
        return dict(self._rename_refs(raw, renames))

    def _rename_refs(self, node: Any, renames: dict[str, str]) -> Any:
        if isinstance(node, dict):
            out = {k: self._rename_refs(v, renames) for k, v in node.items()}
            ref = out.get("$ref")
            if isinstance(ref, str) and ref.startswith(self.ref_prefix):
                name = ref[len(self.ref_prefix):]
                out["$ref"] = self.ref_prefix + renames.get(name, name)
            return out
        if isinstance(node, list):
            return [self._rename_refs(v, renames) for v in node]
        return node


def values_schema(values: list[Any]) -> dict[str, Any]:
    """``{"enum": values}``, with their ``type`` when they share one."""
    schema: dict[str, Any] = {"enum": values}
    kinds = {json_kind(value) for value in values}
    if len(kinds) == 1 and None not in kinds:
        schema["type"] = kinds.pop()
    return schema


def _dataclass_mode(tp: type, mode: str) -> str:
    """``mode``, where the dataclass's schema depends on it (``init=False`` fields); else validation."""
    return mode if any(not f.init for f in dataclasses.fields(tp)) else "validation"


def _object(tp: type, properties: dict[str, Any], required: list[str], description: str | None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "title": tp.__name__, "properties": properties}
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    return schema


def _set_description(prop: dict[str, Any], text: str | None) -> None:
    if text and "description" not in prop:
        prop["description"] = text


def _set_default(prop: dict[str, Any], default: Any) -> None:
    value = json_default(default)
    if value is not NOT_JSON:
        prop["default"] = value


def _main_type(schema: Mapping[str, Any]) -> str | None:
    """The JSON type a schema's length constraints apply to (``["string", "null"]``: string)."""
    kinds = schema.get("type")
    if isinstance(kinds, list):
        kinds = [k for k in kinds if k != "null"]
        return kinds[0] if len(kinds) == 1 else None
    return kinds if isinstance(kinds, str) else None


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)
