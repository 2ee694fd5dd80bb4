"""Shared fixtures: a database on each backend, a temporary config, the seeds, built apps.

``database_url`` runs a test once on SQLite (a file in ``tmp_path``) and once on PostgreSQL
(marker ``postgres``) in a schema of its own, created before and dropped after the test, so
tests never see each other's rows. PostgreSQL is ``$MONITOR_TEST_POSTGRES_URL``; when it is
unreachable the PostgreSQL variants are skipped, except under CI (``$CI`` set), where they fail.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rensa import RMinHash
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from monitor.app import App
from monitor.config import Config, load_config
from monitor.store import db

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = REPO_ROOT / "seeds"
SHIPPED_CONFIG = REPO_ROOT / "config" / "monitor.yaml"

POSTGRES_URL = os.environ.get(
    "MONITOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

#: The contract topic, exactly as config/monitor.yaml ships it (test_config checks they agree).
CONTRACT_TOPIC = "russia-ukraine-talks"
CONTRACT_QUERY = (
    "(Ukraine OR Ukrainian OR Kyiv OR Kiev OR Zelenskyy) AND (Russia OR Russian OR Kremlin OR Moscow) "
    'AND (talks OR negotiat* OR "peace deal" OR ceasefire OR envoy)'
)

#: The seed that opens the contract story, and the one that should update it.
SEED_FIRST = "000_5d930837eff73e1e.txt"
SEED_UPDATE = "002_fa0feb96f6a484b8.txt"

#: A seeds-format article the contract topic must not match (no Ukraine, no Russia).
UNRELATED_ARTICLE = (
    " date 2026-02-18 The city council approved a new cycling lane along the river on Tuesday.\n"
    "The lane will connect the old harbour with the university campus and open next spring.\n"
    "Council members said the project was funded by a regional transport grant.\n"
    "Local shop owners welcomed the plan but asked for more parking for delivery vans.\n"
)


# --- PostgreSQL ---------------------------------------------------------------------------

_postgres_problem: list[str] = []


def _admin_engine() -> Any:
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


@pytest.fixture(scope="session")
def postgres_available() -> None:
    """Skip (or under CI, fail) when the test PostgreSQL server cannot be reached."""
    if not _postgres_problem:
        engine = _admin_engine()
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            _postgres_problem.append("")
        except OperationalError as exc:
            _postgres_problem.append(str(exc.orig).strip().splitlines()[0])
        finally:
            engine.dispose()
    problem = _postgres_problem[0]
    if problem:
        where = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        message = f"PostgreSQL at {where} is unreachable ({problem}); set MONITOR_TEST_POSTGRES_URL"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {message}")
        pytest.skip(message)


@pytest.fixture
def postgres_url(postgres_available: None) -> Iterator[str]:
    """A URL whose connections all use a fresh schema of their own, dropped afterwards."""
    schema = f"t_{secrets.token_hex(6)}"
    admin = _admin_engine()
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # A connection a test leaked must not hang the drop for ever.
            connection.execute(text("SET lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


# --- configs, seeds and apps ----------------------------------------------------------------


def _write_config(directory: Path, *, source: dict[str, Any] | None = None, **overrides: Any) -> Path:
    """Write ``directory/monitor.yaml``: a drop folder ``directory/inbox`` polled every second,
    the console notifier, and the contract topic. ``source`` adds keys to the folder source;
    any other keyword replaces that top-level key."""
    inbox = directory / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "database": f"sqlite:///{directory / 'monitor.db'}",
        "sources": [{"name": "inbox", "folder": str(inbox), "every": "1s", **(source or {})}],
        "notifiers": {"console": {}},
        "topics": [{"name": CONTRACT_TOPIC, "query": CONTRACT_QUERY, "notify": ["console"]}],
        "delivery": {"every": "1s"},
    }
    data.update(overrides)
    path = directory / "monitor.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def write_config() -> Callable[..., Path]:
    """``write_config(tmp_path, **overrides) -> Path`` (see :func:`_write_config`)."""
    return _write_config


@pytest.fixture
def seeds_dir() -> Path:
    return SEEDS_DIR


def copy_seeds(folder: Path, names: tuple[str, ...] = (SEED_FIRST, SEED_UPDATE)) -> list[Path]:
    """Copy seeds into a drop folder, keeping their mtimes (a seed without a date uses it)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(SEEDS_DIR / name, folder / name)) for name in names]


def sketch_digest(sketch: RMinHash | None) -> list[int] | None:
    """A duplicate sketch's hash values: two sketches are equal when these are (rensa's own
    sketches compare by identity)."""
    return None if sketch is None else list(sketch.digest())


@pytest.fixture
def build_app() -> Iterator[Callable[[Config], App]]:
    """Build :class:`App` objects the way ``monitor db upgrade`` then ``monitor once`` would;
    every one is closed after the test."""
    built: list[App] = []

    def build(config: Config) -> App:
        engine = db.create_db_engine(config.database)
        try:
            db.upgrade(engine)
        finally:
            engine.dispose()
        app = App.build(config)
        built.append(app)
        return app

    yield build
    for app in built:
        app.close()


@pytest.fixture
def contract_config(tmp_path: Path, database_url: str) -> Config:
    """The standard test config on the backend under test, with an empty inbox."""
    return load_config(_write_config(tmp_path, database=database_url))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI installs its own root handler; put pytest's back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
