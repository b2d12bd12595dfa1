"""The Composio provider: tools, connections and execution through the ``composio`` SDK.

- ``provider``: ``ComposioProvider`` (``ToolSource``, ``ConnectionReader``, ``ToolProvider``)
- ``client``: building the SDK client, calling it from threads, reading every page
- ``mapping``: Composio's toolkits, tools and accounts as Lucy's models
- ``errors``: Composio's failures as ``ProviderCallError`` kinds
- ``accounts``: which toolkits a Composio user has ACTIVE accounts for (TTL-cached)

Importing this package does not import ``composio`` (~4.6 s); building a provider does.
"""

from lucy.providers.composio.provider import ComposioProvider

__all__ = ["ComposioProvider"]
