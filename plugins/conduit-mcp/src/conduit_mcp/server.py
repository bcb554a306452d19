"""MCPServer: the registry of tools, resources and prompts, and its decorators.

::

    from conduit.mcp import MCPServer

    server = MCPServer(name="my-tools", version="1.0.0", description="My MCP server")

    @server.tool()
    def calculate(a: float, b: float, operation: Literal["add", "multiply"]) -> float:
        \"\"\"Perform a calculation.

        Args:
            a: The first operand.
            b: The second operand.
            operation: What to do with them.
        \"\"\"
        return a + b if operation == "add" else a * b

    server.run()  # stdio

Adding or removing a tool, resource or prompt while clients are connected sends them
the matching ``notifications/*/list_changed``; :meth:`MCPServer.notify_resource_updated`
tells the clients subscribed to a resource that it changed.
"""

from __future__ import annotations

import inspect
import sys
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypedDict, TypeVar, Unpack, overload

from conduit_mcp.completions import Completer
from conduit_mcp.context import Context
from conduit_mcp.prompts import Prompt
from conduit_mcp.protocol import ServerSession
from conduit_mcp.resources import Resource, ResourceTemplate
from conduit_mcp.schema import describe_function
from conduit_mcp.tools import Tool, validate_tool_name
from conduit_mcp.uritemplate import UriTemplate

__all__ = ["MCPServer"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_INJECTABLE = (Context,)


class _PromptOptions(TypedDict, total=False):
    """The keywords the decorators pass on to ``add_prompt``/``add_resource``/``add_tool``."""

    title: str | None
    description: str | None
    meta: Mapping[str, Any] | None


class _ResourceOptions(_PromptOptions, total=False):
    annotations: Mapping[str, Any] | None


class _ToolOptions(_ResourceOptions, total=False):
    structured_output: bool | None
    input_schema: Mapping[str, Any] | None


def _registering(add: Callable[..., object], /, *args: Any, **kwargs: Any) -> Callable[[F], F]:
    """A decorator that calls ``add(fn, *args, **kwargs)`` and returns ``fn`` unchanged.

    The arguments are checked against ``add`` now, so a misspelled keyword is a TypeError
    where the decorator is written, not only once it is applied.
    """
    inspect.signature(add).bind(None, *args, **kwargs)

    def decorator(fn: F) -> F:
        add(fn, *args, **kwargs)
        return fn

    return decorator


class MCPServer:
    """A Model Context Protocol server: register functions, then serve them.

    ``page_size`` (None: everything in one page) splits ``*/list`` answers into pages
    linked by ``nextCursor``. ``instructions`` is sent to clients in ``initialize``.
    """

    def __init__(
        self,
        name: str,
        version: str = "0.1.0",
        description: str | None = None,
        *,
        title: str | None = None,
        instructions: str | None = None,
        website_url: str | None = None,
        page_size: int | None = None,
    ) -> None:
        if not name:
            raise ValueError("MCPServer needs a name (it is sent to clients as serverInfo.name)")
        if page_size is not None and page_size < 1:
            raise ValueError(f"page_size must be a positive number of items or None, got {page_size}")
        self.name = name
        self.version = version
        self.description = description
        self.title = title
        self.instructions = instructions
        self.website_url = website_url
        self.page_size = page_size
        self.tools: dict[str, Tool] = {}
        self.resources: dict[str, Resource] = {}
        self.resource_templates: dict[str, ResourceTemplate] = {}
        self.prompts: dict[str, Prompt] = {}
        self.completers: dict[tuple[str, str, str], Completer] = {}
        self._sessions: weakref.WeakSet[ServerSession] = weakref.WeakSet()

    def __repr__(self) -> str:
        return (
            f"MCPServer({self.name!r}, {self.version!r}: {len(self.tools)} tools, "
            f"{len(self.resources) + len(self.resource_templates)} resources, {len(self.prompts)} prompts)"
        )

    # -- protocol ---------------------------------------------------------------------

    def capabilities(self) -> dict[str, Any]:
        """What this server offers, as sent in ``initialize``."""
        return {
            "tools": {"listChanged": True},
            "resources": {"subscribe": True, "listChanged": True},
            "prompts": {"listChanged": True},
            "logging": {},
            "completions": {},
        }

    def initialize_result(self, version: str) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.title and version >= "2025-06-18":
            info["title"] = self.title
        if self.description and version >= "2025-11-25":
            info["description"] = self.description
        if self.website_url and version >= "2025-11-25":
            info["websiteUrl"] = self.website_url
        result: dict[str, Any] = {"protocolVersion": version, "capabilities": self.capabilities(), "serverInfo": info}
        if self.instructions:
            result["instructions"] = self.instructions
        return result

    def create_session(self, send: Callable[[dict[str, Any]], Any] | None = None) -> ServerSession:
        """A new client session; ``send`` delivers server-initiated messages to it."""
        session = ServerSession(self, send)
        self._sessions.add(session)
        return session

    def _forget(self, session: ServerSession) -> None:
        self._sessions.discard(session)

    def _list_changed(self, kind: str) -> None:
        message = {"jsonrpc": "2.0", "method": f"notifications/{kind}/list_changed"}
        for session in list(self._sessions):
            if session.initialized:
                session.post(message)

    def notify_resource_updated(self, uri: str) -> int:
        """Send ``notifications/resources/updated`` to every session subscribed to ``uri``.

        Safe to call from any thread; returns how many sessions were told.
        """
        message = {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri}}
        told = 0
        for session in list(self._sessions):
            if uri in session.subscriptions:
                session.post(message)
                told += 1
        return told

    def _register(self, table: dict[Any, T], key: Any, item: T, what: str, kind: str, hint: str = "") -> T:
        """Add ``item`` under ``key``, refusing a key already taken; announce the change."""
        if key in table:
            raise ValueError(f"{what} {key!r} is already registered on MCP server {self.name!r}{hint}")
        table[key] = item
        self._list_changed(kind)
        return item

    def _unregister(self, tables: tuple[dict[Any, Any], ...], key: Any, what: str, kind: str) -> None:
        if not any(table.pop(key, None) is not None for table in tables):
            raise KeyError(f"no {what} {key!r} on MCP server {self.name!r}")
        self._list_changed(kind)

    # -- tools ------------------------------------------------------------------------

    @overload
    def tool(self, name: F) -> F: ...

    @overload
    def tool(self, name: str | None = None, **options: Unpack[_ToolOptions]) -> Callable[[F], F]: ...

    def tool(self, name: Any = None, **options: Any) -> Any:
        """Register a function as a tool (``@server.tool()`` or ``@server.tool``).

        Takes the keywords of :meth:`add_tool`: ``name``, ``title``, ``description``,
        ``annotations``, ``structured_output``, ``meta`` and ``input_schema``.
        The name defaults to the function's, the description to its docstring; the
        input schema comes from the type hints. ``annotations`` are MCP tool hints
        (``{"readOnlyHint": True}``); ``structured_output=False`` sends no output schema.
        ``input_schema`` replaces the advertised schema (JSON Schema 2020-12 as written:
        ``$schema``, ``$defs``...); the arguments are still converted by the type hints.
        """
        if callable(name):
            self.add_tool(name, **options)
            return name
        return _registering(self.add_tool, name=name, **options)

    def add_tool(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: Mapping[str, Any] | None = None,
        structured_output: bool | None = None,
        meta: Mapping[str, Any] | None = None,
        input_schema: Mapping[str, Any] | None = None,
    ) -> Tool:
        """Register ``fn`` as a tool and return it; a name already taken is refused."""
        if input_schema is not None and input_schema.get("type") != "object":
            raise ValueError(f"input_schema of tool {name or fn.__name__!r} must be a JSON Schema with type 'object'")
        if name is not None:
            validate_tool_name(name)
        signature = describe_function(
            fn,
            kind="tool",
            name=name,
            description=description,
            injectable=_INJECTABLE,
            structured_output=structured_output,
        )
        tool = Tool(fn, signature, title=title, annotations=annotations, meta=meta, input_schema=input_schema)
        hint = "; pass name= to register it under another name, or remove_tool() first"
        return self._register(self.tools, tool.name, tool, "tool", "tools", hint)

    def remove_tool(self, name: str) -> None:
        """Unregister a tool; connected clients are told the list changed."""
        self._unregister((self.tools,), name, "tool named", "tools")

    # -- resources --------------------------------------------------------------------

    def resource(
        self, uri: str, name: str | None = None, mime_type: str | None = None, **options: Unpack[_ResourceOptions]
    ) -> Callable[[F], F]:
        """Register a function that returns a resource's contents.

        Takes the keywords of :meth:`add_resource`: ``name``, ``mime_type``, ``title``,
        ``description``, ``annotations`` and ``meta``.
        A ``uri`` with ``{variables}`` (``doc://{id}``) registers a resource template;
        the function then takes one parameter per variable.
        """
        return _registering(self.add_resource, uri, name=name, mime_type=mime_type, **options)

    def add_resource(
        self,
        fn: Callable[..., Any],
        uri: str,
        *,
        name: str | None = None,
        mime_type: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Resource | ResourceTemplate:
        """Register ``fn`` as the resource (or template) ``uri`` and return it."""
        if not uri or ":" not in uri:
            raise ValueError(f"resource URI {uri!r} needs a scheme, as in 'doc://readme' or 'file:///notes.txt'")
        signature = describe_function(fn, kind="resource", injectable=_INJECTABLE, structured_output=False)
        common: dict[str, Any] = {
            "name": name or signature.name,
            "title": title,
            "description": description if description is not None else signature.description,
            "mime_type": mime_type,
            "annotations": annotations,
            "meta": meta,
        }
        if UriTemplate.is_template(uri):
            template = ResourceTemplate(fn, signature, template=UriTemplate(uri), **common)
            return self._register(self.resource_templates, uri, template, "resource template", "resources")
        if signature.parameters:
            names = ", ".join(p.name for p in signature.parameters)
            raise ValueError(
                f"resource {uri!r}: the function takes parameters ({names}) but the URI has no "
                "{variables}; use a URI template such as 'doc://{id}'"
            )
        resource = Resource(fn, signature, uri=uri, **common)
        return self._register(self.resources, uri, resource, "resource", "resources")

    def remove_resource(self, uri: str) -> None:
        """Unregister a resource or template by its URI (template)."""
        self._unregister((self.resources, self.resource_templates), uri, "resource", "resources")

    # -- prompts ----------------------------------------------------------------------

    @overload
    def prompt(self, name: F) -> F: ...

    @overload
    def prompt(self, name: str | None = None, **options: Unpack[_PromptOptions]) -> Callable[[F], F]: ...

    def prompt(self, name: Any = None, **options: Any) -> Any:
        """Register a function that renders a prompt (``@server.prompt()`` or ``@server.prompt``).

        Takes the keywords of :meth:`add_prompt`: ``name``, ``title``, ``description`` and ``meta``.
        """
        if callable(name):
            self.add_prompt(name, **options)
            return name
        return _registering(self.add_prompt, name=name, **options)

    def add_prompt(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Prompt:
        signature = describe_function(
            fn, kind="prompt", name=name, description=description, injectable=_INJECTABLE, structured_output=False
        )
        prompt = Prompt(fn, signature, title=title, meta=meta)
        return self._register(self.prompts, prompt.name, prompt, "prompt", "prompts")

    def remove_prompt(self, name: str) -> None:
        self._unregister((self.prompts,), name, "prompt named", "prompts")

    # -- completions ------------------------------------------------------------------

    def completion(
        self, *, argument: str, prompt: str | None = None, resource: str | None = None
    ) -> Callable[[F], F]:
        """Register a function completing ``argument`` of a prompt or a resource template.

        ``@server.completion(prompt="review", argument="language")`` or
        ``@server.completion(resource="doc://{id}", argument="id")``; the function takes
        ``value`` (what the user typed so far) and optionally ``arguments`` (the other
        arguments' values) and returns the matching strings, best first.
        """
        return _registering(self.add_completion, argument=argument, prompt=prompt, resource=resource)

    def add_completion(
        self, fn: Callable[..., Any], *, argument: str, prompt: str | None = None, resource: str | None = None
    ) -> Completer:
        if (prompt is None) == (resource is None):
            raise ValueError("a completion completes the argument of one prompt= or one resource= template; give one")
        if resource is not None and not UriTemplate.is_template(resource):
            raise ValueError(f"resource={resource!r} is not a URI template; only template variables are completed")
        signature = describe_function(fn, kind="completion", injectable=_INJECTABLE, structured_output=False)
        completer = Completer(fn, signature)
        key = ("ref/prompt", prompt, argument) if prompt is not None else ("ref/resource", resource, argument)
        if key in self.completers:
            raise ValueError(f"argument {argument!r} of {key[1]!r} already has a completion on MCP server {self.name!r}")
        self.completers[key] = completer  # type: ignore[index]
        return completer

    # -- running ----------------------------------------------------------------------

    def run(self, transport: Literal["stdio"] = "stdio") -> None:
        """Serve over ``transport`` until the client goes away (stdio: stdin closes)."""
        if transport != "stdio":
            raise ValueError(
                f"transport {transport!r} is not run by MCPServer.run(); serve Streamable HTTP by "
                "mounting the server on a Conduit app: conduit_mcp.mount_mcp(app, '/mcp', server)"
            )
        import anyio

        from conduit_mcp.stdio import serve_stdio

        try:
            anyio.run(serve_stdio, self)
        except KeyboardInterrupt:
            sys.stderr.write(f"MCP server {self.name!r} stopped\n")

    async def run_stdio_async(self) -> None:
        """:meth:`run` for callers already inside an event loop."""
        from conduit_mcp.stdio import serve_stdio

        await serve_stdio(self)
