"""The fixtures the official MCP conformance suite's server scenarios call, on the public API.

Serve it and run the suite (Node 22)::

    cd plugins/conduit-mcp/tests
    ../../../.venv/bin/conduit mcp http conformance_server:server --port 8765
    npx -y node@22 "$(command -v npx)" -y @modelcontextprotocol/conformance@0.1.16 \
        server --url http://127.0.0.1:8765/mcp

Every tool, resource and prompt below is what a scenario of
``@modelcontextprotocol/conformance`` asks for by name (``tools-call-image`` calls
``test_image_content``, ``resources-templates-read`` reads ``test://template/{id}/data``,
...); nothing here knows it is being tested.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import anyio

from conduit_mcp import Audio, Context, EmbeddedResource, Image, MCPServer, Message

server = MCPServer(name="conduit-conformance", version="1.0.0", description="Fixtures for the MCP conformance suite")

# A 1x1 red PNG and a minimal WAV file.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
WAV = base64.b64decode("UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=")


# -- tools --------------------------------------------------------------------------------


@server.tool()
def test_simple_text() -> str:
    """Tests simple text content response."""
    return "This is a simple text response for testing."


@server.tool()
def test_image_content() -> Image:
    """Tests image content response."""
    return Image(PNG, "image/png")


@server.tool()
def test_audio_content() -> Audio:
    """Tests audio content response."""
    return Audio(WAV, "audio/wav")


@server.tool()
def test_embedded_resource() -> EmbeddedResource:
    """Tests embedded resource content response."""
    return EmbeddedResource(
        "test://embedded-resource", text="This is an embedded resource content.", mime_type="text/plain"
    )


@server.tool()
def test_multiple_content_types() -> list[str | Image | EmbeddedResource]:
    """Tests response with multiple content types (text, image, resource)."""
    return [
        "Multiple content types test:",
        Image(PNG, "image/png"),
        EmbeddedResource("test://mixed-content-resource", text='{"test":"data","value":123}', mime_type="application/json"),
    ]


@server.tool()
async def test_tool_with_logging(ctx: Context) -> str:
    """Tests tool that emits log messages during execution."""
    await ctx.info("Tool execution started")
    await anyio.sleep(0.05)
    await ctx.info("Tool processing data")
    await anyio.sleep(0.05)
    await ctx.info("Tool execution completed")
    return "Tool with logging executed successfully"


@server.tool()
async def test_tool_with_progress(ctx: Context) -> str:
    """Tests tool that reports progress notifications."""
    for done in (0, 50, 100):
        await ctx.report_progress(done, 100, message=f"Completed step {done} of 100")
        if done < 100:
            await anyio.sleep(0.05)
    return str(ctx.progress_token)


@server.tool()
def test_error_handling() -> str:
    """Tests error response handling."""
    raise RuntimeError("This tool intentionally returns an error for testing")


@server.tool()
async def test_reconnection(ctx: Context) -> str:
    """Closes its SSE stream mid-call; the client gets the result after reconnecting (SEP-1699)."""
    await ctx.close_sse_stream()
    await anyio.sleep(0.1)
    return "Reconnection test completed successfully. If you received this, the client properly reconnected."


@server.tool()
async def test_sampling(prompt: str, ctx: Context) -> str:
    """Tests server-initiated sampling (LLM completion request).

    Args:
        prompt: The prompt to send to the LLM.
    """
    answer = await ctx.sample(prompt, max_tokens=100)
    return f"LLM response: {answer.text}"


@server.tool()
async def test_elicitation(message: str, ctx: Context) -> str:
    """Tests server-initiated elicitation (user input request).

    Args:
        message: The message to show the user.
    """
    schema = {
        "type": "object",
        "properties": {"response": {"type": "string", "description": "User's response"}},
        "required": ["response"],
    }
    reply = await ctx.elicit(message, schema)
    return f"User response: action={reply.action}, content={reply.content or {}}"


@server.tool()
async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    """Tests elicitation with default values per SEP-1034."""
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"],
                       "default": "active"},
            "verified": {"type": "boolean", "description": "Verification status", "default": True},
        },
        "required": [],
    }
    reply = await ctx.elicit("Please review and update the form fields with defaults", schema)
    return f"Elicitation completed: action={reply.action}, content={reply.content or {}}"


@server.tool()
async def test_elicitation_sep1330_enums(ctx: Context) -> str:
    """Tests elicitation with enum schema improvements per SEP-1330."""
    schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "description": "Select one option",
                               "enum": ["option1", "option2", "option3"]},
            "titledSingle": {"type": "string", "description": "Select one option with titles", "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ]},
            "legacyEnum": {"type": "string", "description": "Select one option (legacy)",
                           "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
            "untitledMulti": {"type": "array", "description": "Select multiple options", "minItems": 1, "maxItems": 3,
                              "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
            "titledMulti": {"type": "array", "description": "Select multiple options with titles", "minItems": 1,
                            "maxItems": 3, "items": {"anyOf": [
                                {"const": "value1", "title": "First Choice"},
                                {"const": "value2", "title": "Second Choice"},
                                {"const": "value3", "title": "Third Choice"},
                            ]}},
        },
        "required": [],
    }
    reply = await ctx.elicit("Please select options from the enum fields", schema)
    return f"Elicitation completed: action={reply.action}, content={reply.content or {}}"


@dataclass
class Address:
    street: str | None = None
    city: str | None = None


JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


@server.tool(input_schema=JSON_SCHEMA_2020_12)
def json_schema_2020_12_tool(name: str | None = None, address: Address | None = None) -> str:
    """Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)."""
    return f"JSON Schema 2020-12 tool called with: name={name!r}, address={address!r}"


# -- resources ----------------------------------------------------------------------------


@server.resource("test://static-text", name="static-text", mime_type="text/plain", title="Static Text Resource")
def static_text() -> str:
    """A static text resource for testing."""
    return "This is the content of the static text resource."


@server.resource("test://static-binary", name="static-binary", mime_type="image/png", title="Static Binary Resource")
def static_binary() -> bytes:
    """A static binary resource (image) for testing."""
    return PNG


@server.resource("test://template/{id}/data", name="template", mime_type="application/json", title="Resource Template")
def template(id: str) -> dict[str, object]:  # noqa: A002 - the scenario names the variable id
    """A resource template with parameter substitution."""
    return {"id": id, "templateTest": True, "data": f"Data for ID: {id}"}


WATCHED = {"text": "Watched resource content"}


@server.resource("test://watched-resource", name="watched-resource", mime_type="text/plain", title="Watched Resource")
def watched() -> str:
    """A resource subscribers hear about when it changes (see update_watched)."""
    return WATCHED["text"]


@server.tool()
async def test_roots(ctx: Context) -> list[str]:
    """The client's roots (roots/list), as URIs."""
    return [root["uri"] for root in await ctx.list_roots()]


@server.tool()
def update_watched(text: str) -> str:
    """Change test://watched-resource and notify its subscribers."""
    WATCHED["text"] = text
    return f"told {server.notify_resource_updated('test://watched-resource')} subscriber(s)"


# -- prompts ------------------------------------------------------------------------------


@server.prompt(title="Simple Test Prompt")
def test_simple_prompt() -> str:
    """A simple prompt without arguments."""
    return "This is a simple prompt for testing."


@server.prompt(title="Prompt With Arguments")
def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
    """A prompt with required arguments.

    Args:
        arg1: First test argument.
        arg2: Second test argument.
    """
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@server.prompt(title="Prompt With Embedded Resource")
def test_prompt_with_embedded_resource(resourceUri: str) -> list[Message]:  # noqa: N803 - the scenario's name
    """A prompt that includes an embedded resource.

    Args:
        resourceUri: URI of the resource to embed.
    """
    return [
        Message(EmbeddedResource(resourceUri, text="Embedded resource content for testing.", mime_type="text/plain")),
        Message("Please process the embedded resource above."),
    ]


@server.prompt(title="Prompt With Image")
def test_prompt_with_image() -> list[Message]:
    """A prompt that includes image content."""
    return [Message(Image(PNG, "image/png")), Message("Please analyze the image above.")]


# -- completions --------------------------------------------------------------------------


@server.completion(prompt="test_prompt_with_arguments", argument="arg1")
def complete_arg1(value: str) -> list[str]:
    return [word for word in ("paris", "park", "party", "test", "testing") if word.startswith(value)]


@server.completion(resource="test://template/{id}/data", argument="id")
def complete_id(value: str) -> list[str]:
    return [str(n) for n in range(1, 200) if str(n).startswith(value)]


if __name__ == "__main__":
    server.run()  # stdio
