"""Content blocks a tool or prompt may return besides text: images, audio, embedded resources.

::

    from conduit_mcp import Image, EmbeddedResource

    @server.tool()
    def chart(city: str) -> list[str | Image]:
        return [f"Rainfall in {city}:", Image(render_png(city), "image/png")]

    @server.tool()
    def manual() -> EmbeddedResource:
        return EmbeddedResource("doc://manual", text="Press the red button.", mime_type="text/plain")

A tool result is a list of content blocks: a ``str`` becomes a text block, an
:class:`Image`/:class:`Audio`/:class:`EmbeddedResource`/:class:`ResourceLink` its own
block, and anything else JSON text. A return type made of content blocks has no output
schema. Prompt messages take the same blocks as their ``content``.
"""

from __future__ import annotations

import abc
import base64
import binascii
import mimetypes
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["Audio", "ContentBlock", "EmbeddedResource", "Image", "ResourceLink", "is_content_type"]


class ContentBlock(abc.ABC):
    """A piece of MCP content; subclasses know their wire shape."""

    __slots__ = ()

    @abc.abstractmethod
    def to_wire(self) -> dict[str, Any]:
        """This block as the MCP wire format's JSON object."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_wire() == self.to_wire()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(repr(self.to_wire()))

    def __repr__(self) -> str:
        wire = self.to_wire()
        if "data" in wire:
            wire["data"] = f"<{len(wire['data'])} base64 chars>"
        return f"{type(self).__name__}({wire})"


def _base64(data: bytes | bytearray | memoryview | str, what: str) -> str:
    if isinstance(data, str):  # already base64: check it so a file path is not sent by mistake
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                f"{what} data given as str must be base64; pass bytes, or use {what}.from_file(path)"
            ) from None
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(data)).decode("ascii")
    raise TypeError(f"{what} data must be bytes (or a base64 str), got {type(data).__name__}")


class _Media(ContentBlock):
    __slots__ = ("annotations", "data", "meta", "mime_type")
    kind = ""
    default_mime = ""

    def __init__(
        self,
        data: bytes | bytearray | memoryview | str,
        mime_type: str | None = None,
        *,
        annotations: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.data = _base64(data, type(self).__name__)
        self.mime_type = mime_type or self.default_mime
        self.annotations = dict(annotations) if annotations else None
        self.meta = dict(meta) if meta else None

    @classmethod
    def from_file(cls, path: str | Path, mime_type: str | None = None) -> typing.Self:
        """Read ``path``; the MIME type is guessed from its suffix unless given."""
        file = Path(path)
        guessed = mime_type or mimetypes.guess_type(file.name)[0]
        return cls(file.read_bytes(), guessed)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": self.kind, "data": self.data, "mimeType": self.mime_type}
        if self.annotations:
            wire["annotations"] = dict(self.annotations)
        if self.meta:
            wire["_meta"] = dict(self.meta)
        return wire


class Image(_Media):
    """An image: ``Image(png_bytes, "image/png")`` (bytes are base64-encoded for you)."""

    __slots__ = ()
    kind = "image"
    default_mime = "image/png"


class Audio(_Media):
    """Audio: ``Audio(wav_bytes, "audio/wav")``."""

    __slots__ = ()
    kind = "audio"
    default_mime = "audio/wav"


class EmbeddedResource(ContentBlock):
    """A resource's contents inlined in a result: ``text=`` or ``blob=`` (bytes)."""

    __slots__ = ("annotations", "blob", "meta", "mime_type", "text", "uri")

    def __init__(
        self,
        uri: str,
        *,
        text: str | None = None,
        blob: bytes | bytearray | memoryview | str | None = None,
        mime_type: str | None = None,
        annotations: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if (text is None) == (blob is None):
            raise ValueError(f"EmbeddedResource {uri!r} needs exactly one of text= or blob=")
        self.uri = uri
        self.text = text
        self.blob = None if blob is None else _base64(blob, "EmbeddedResource")
        self.mime_type = mime_type
        self.annotations = dict(annotations) if annotations else None
        self.meta = dict(meta) if meta else None

    def to_wire(self) -> dict[str, Any]:
        resource: dict[str, Any] = {"uri": self.uri}
        if self.mime_type:
            resource["mimeType"] = self.mime_type
        if self.text is not None:
            resource["text"] = self.text
        else:
            resource["blob"] = self.blob
        wire: dict[str, Any] = {"type": "resource", "resource": resource}
        if self.annotations:
            wire["annotations"] = dict(self.annotations)
        if self.meta:
            wire["_meta"] = dict(self.meta)
        return wire


class ResourceLink(ContentBlock):
    """A link to a resource the client may read later (``resources/read``)."""

    __slots__ = ("description", "mime_type", "name", "uri")

    def __init__(self, uri: str, name: str, *, description: str | None = None, mime_type: str | None = None) -> None:
        self.uri = uri
        self.name = name
        self.description = description
        self.mime_type = mime_type

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": "resource_link", "uri": self.uri, "name": self.name}
        if self.description:
            wire["description"] = self.description
        if self.mime_type:
            wire["mimeType"] = self.mime_type
        return wire


def is_content_type(annotation: Any) -> bool:
    """True when a return annotation is made of content blocks (``Image``, ``list[str | Image]``...)."""
    if isinstance(annotation, type) and issubclass(annotation, ContentBlock):
        return True
    return any(is_content_type(arg) for arg in typing.get_args(annotation))
