"""The app's real PostgreSQL pool; ``application_name`` is the deployment name so the server-side
connection count (postgres_exporter) can be split per track."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

CONNECT_TIMEOUT_S = 3


class Database:
    """A small pool for requests plus a factory for connections the db-leak fault keeps open."""

    def __init__(self, dsn: str, application_name: str, *, pool_size: int = 4) -> None:
        self._dsn = dsn
        self._kwargs: dict[str, Any] = {
            "application_name": application_name,
            "connect_timeout": CONNECT_TIMEOUT_S,
        }
        # open=True starts connecting in the background and keeps retrying, so the app comes up
        # even if PostgreSQL is a moment late; /healthz reports when the pool is usable.
        self.pool = ConnectionPool(
            dsn, min_size=min(2, pool_size), max_size=pool_size, kwargs=self._kwargs, open=True, timeout=2.0
        )

    def query(self) -> None:
        """A small real round trip, so the pool is exercised under load like a real service's."""
        with self.pool.connection() as conn:
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = current_setting('application_name')"
            ).fetchone()

    def connect_extra(self) -> psycopg.Connection[Any]:
        """A connection outside the pool, as a leaking code path would open it."""
        return psycopg.connect(self._dsn, autocommit=True, **self._kwargs)

    def stats(self) -> dict[str, int]:
        s = self.pool.get_stats()
        return {"size": int(s.get("pool_size", 0)), "available": int(s.get("pool_available", 0))}

    def ready(self) -> bool:
        return self.stats()["size"] > 0

    def close(self) -> None:
        self.pool.close(timeout=2.0)
