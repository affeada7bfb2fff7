"""Django's PostgreSQL backend, for the embedded server: a connection attempt that fails because the server is
not running starts it again (config.embedded_db.server_revive, rate limited) and tries once more. Used only
when no DATABASE_URL is set; an external server is someone else's to run."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base

from config.embedded_db import server_revive


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            return super().get_new_connection(conn_params)
        except base.Database.OperationalError:  # type: ignore[attr-defined]  # the driver module; not in the stub
            if not server_revive():
                raise
            return super().get_new_connection(conn_params)
