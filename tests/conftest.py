"""Shared fixtures: the shared corpus, a fresh DuckDB file per test, one Prefect harness per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Prefect reads these at import time: keep its state out of the user's home and quiet offline.
_PREFECT_HOME = tempfile.mkdtemp(prefix="newsflow-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("NEWSFLOW_DB", None)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The read-only shared corpus beside the checkout; tests that need it skip without it."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS} (CI lays ../shared beside the clone)")
    return CORPUS


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test harness (temporary API and database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    """A fresh DuckDB warehouse path per test."""
    return str(tmp_path / "news.duckdb")


@pytest.fixture
def fetch_settings():
    """Fetch settings for loopback tests: private hosts allowed, no politeness delay, quick retries."""
    from tasks.settings import FetchSettings

    return FetchSettings(
        allow_private_hosts=True,
        per_host_delay=0.0,
        per_host_concurrency=8,
        backoff_base=0.05,
        backoff_max=2.0,
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=10.0,
    )
