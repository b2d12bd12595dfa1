"""HTTP API: ``create_app(settings)``."""

from lucy.api.app import create_app

__all__ = ["create_app"]
