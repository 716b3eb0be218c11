"""Run the gateway under gunicorn from a `Settings` object (no command line parsing).

Every gunicorn setting and hook comes from serving/gunicorn_config.py for these
settings, and the settings reach each worker's app through `create_app(settings)`:
nothing reads the environment again.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from serving.config import Settings
from serving.gunicorn_config import options


class GatewayApplication(BaseApplication):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in options(self.settings).items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Runs in each worker after fork (no preload): models never load in the master.
        from serving.rest import create_app

        return create_app(self.settings)


def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT; returns after a graceful shutdown."""
    GatewayApplication(settings).run()
