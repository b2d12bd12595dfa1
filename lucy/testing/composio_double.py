"""A Composio API double on loopback that the real ``composio`` SDK talks to, for tests.

It lives in the package `lucy.testing.composio` (whose docstring describes the endpoints,
state and faults); this module re-exports its public names, so imports from here keep working.
"""

from lucy.testing.composio import *  # noqa: F403
from lucy.testing.composio import __all__ as __all__
