"""The kernel on its own: JSON routes with declared bodies, errors, Server-Sent Events."""

from __future__ import annotations

from typing import Annotated, NotRequired, TypedDict

import anyio

from conduit import EventSourceResponse, HTTPRequest, Router, abort

__all__ = ["api"]

api = Router(prefix="/api", tags=["demo"])
NOTES: dict[int, dict[str, object]] = {}


class NewNote(TypedDict):
    """A note: ``text`` is required; any other JSON fields are kept."""

    text: Annotated[str, {"minLength": 1, "pattern": r"[^\s\x1c-\x1f\x85]"}]
    tags: NotRequired[list[str]]


@api.get("/notes")
async def list_notes(request: HTTPRequest) -> list[dict[str, object]]:
    """All notes."""
    return list(NOTES.values())


@api.post("/notes", body=NewNote, status_code=201, responses={422: "The note has no text"})
async def add_note(request: HTTPRequest) -> tuple[dict[str, object], int]:
    """Add a note from any JSON object: {"text": ..., ...}."""
    data = await request.json()
    if not isinstance(data, dict) or not isinstance(data.get("text"), str) or not data["text"].strip():
        abort(422, "Invalid note", 'send a JSON object with a non-empty string field "text"')
    note_id = max(NOTES, default=0) + 1
    NOTES[note_id] = {"id": note_id, **data}
    return NOTES[note_id], 201


@api.get("/notes/{note_id:int}")
async def get_note(request: HTTPRequest, note_id: int) -> dict[str, object]:
    """One note by id."""
    if note_id not in NOTES:
        abort(404, "Note not found", f"no note with id {note_id}; list them at /api/notes")
    return NOTES[note_id]


@api.get("/ticks")
async def ticks(request: HTTPRequest) -> EventSourceResponse:
    """Server-Sent Events: ?count= ticks, one every 100 ms."""
    raw = request.query.get("count", "5")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        abort(422, "Invalid count", f"count must be an integer from 1 to 100, got {raw!r}")
    count = int(raw)

    async def events():
        for i in range(count):
            yield {"event": "tick", "data": {"n": i}}
            await anyio.sleep(0.1)

    return EventSourceResponse(events())
