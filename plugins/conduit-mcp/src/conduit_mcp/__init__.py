"""conduit-mcp: A Model Context Protocol server for Conduit (tools, resources, prompts)."""

__all__: list[str] = []
