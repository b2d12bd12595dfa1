"""MCP servers as a tool source and executor: ``MCPProvider`` serves every server in
``LUCY_MCP_SERVERS`` (each one toolkit) over stdio or streamable HTTP.

- ``mapping``: MCP ``Tool`` → ``ToolSpec`` (slug, flags), server → ``ToolkitInfo``
- ``results``: a call's result → JSON-able data, or ``ProviderCallError``
- ``transport``: opening a server's stdio or HTTP transport
- ``session``: one long-lived session per server, reopened when the server goes away
- ``provider``: ``MCPProvider``
"""

from __future__ import annotations

from lucy.providers.mcp.mapping import tool_slug, tool_spec
from lucy.providers.mcp.provider import MCPProvider
from lucy.providers.mcp.session import ServerSession

__all__ = ["MCPProvider", "ServerSession", "tool_slug", "tool_spec"]
