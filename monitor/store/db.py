"""Engines, sessions and schema upgrades for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from monitor.defaults import SQLITE_BUSY_TIMEOUT_MS
from monitor.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"

#: The newest migration's revision. Kept here so that checking a database that is up to date
#: does not load alembic (a tenth of the CLI's start-up); a test keeps it equal to alembic's head.
SCHEMA_HEAD = "0001"
#: Where alembic records the revision a database is at.
_VERSION_TABLE = "alembic_version"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_db_engine(url: str) -> Engine:
    """An engine with SQLite tuned for one writer and many readers (WAL, busy timeout)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database: not a database URL: {url!r}") from exc
    if parsed.drivername.startswith("sqlite"):
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        # psycopg 3 is the one PostgreSQL driver we ship; a bare scheme means it.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is switched off so that ``_sqlite_begin_immediate``
    # decides how every transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    """Take SQLite's write lock when a transaction begins, not at its first write.

    A transaction that reads and then writes would otherwise fail at once with "database is
    locked" whenever another connection committed in between (the busy timeout does not
    apply to that case). Beginning with the lock makes writers queue for it instead.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # alembic's ini parser treats "%" as interpolation; URL-encoded passwords and options carry it.
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    from alembic import command

    cfg = _alembic_config(engine)
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise StoreError(f"database: cannot upgrade {engine.url!r}: {exc.orig}") from exc


def needs_upgrade(engine: Engine) -> bool:
    """Whether the database is behind the newest migration."""
    return current_revision(engine) != SCHEMA_HEAD


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at; None for a database without our schema."""
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(_VERSION_TABLE):
                return None
            versions = connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
    except OperationalError as exc:
        raise StoreError(f"database: cannot connect to {engine.url!r}: {exc.orig}") from exc
    # alembic keeps one row per branch head; this project's history has one branch.
    return versions[0] if len(versions) == 1 else None


def table_sizes(engine: Engine) -> dict[str, int]:
    """Bytes per table (with indexes) where the backend can tell; SQLite needs dbstat."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            rows = connection.execute(
                text(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
                )
            )
            return {name: int(size) for name, size in rows}
        try:
            # dbstat names each index apart; sqlite_master says which table it belongs to
            # (the schema table itself is not listed there and keeps its own name).
            rows = connection.execute(
                text(
                    "SELECT COALESCE(m.tbl_name, d.name), SUM(d.pgsize) FROM dbstat d "
                    "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1"
                )
            )
        except OperationalError:
            return {}
        return {name: int(size) for name, size in rows}


def database_size(engine: Engine) -> int | None:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            return int(connection.scalar(text("SELECT pg_database_size(current_database())")) or 0)
        if engine.dialect.name == "sqlite":
            pages = connection.scalar(text("PRAGMA page_count")) or 0
            page_size = connection.scalar(text("PRAGMA page_size")) or 0
            return int(pages) * int(page_size)
    return None
