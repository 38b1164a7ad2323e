"""One typed home for configuration: defaults, env vars, the sources file, as plain values."""

from __future__ import annotations

import ctypes
import math
import os
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from tasks.records import Source, SourceKind

DEFAULT_DB = "warehouse/news.duckdb"
DEFAULT_SOURCES = "deployments/sources.toml"
USER_AGENT = "newsflow/0.1 (+https://github.com/newsflow/newsflow; news research crawler)"
_TRUE = {"1", "true", "yes", "on"}
MALLOC_ARENAS = 2
# a 2 MB page of 20 000 paragraphs cleans in about 10 s (thorough) on one core of the 2-core VM
CLEAN_PAGE_SECONDS = 120.0
_M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h
_FILE_TABLES = {"settings", "source"}  # a sources file's top-level keys
_SOURCE_OPTIONS = {"limit", "trust_lastmod"}  # what a [[source]] may set beside its place
_WEB_SCHEMES = ("http://", "https://")
_DASK_ADDRESS = re.compile(
    r"(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d{1,5}/?|inproc://\S+"
)
_SOURCE_KEYS = {"name", "kind", "location", "enabled", *_SOURCE_OPTIONS}
_KINDS = set(SourceKind.__args__)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process and the processes it forks; True if set.

    glibc gives threads that allocate at once arenas of their own, up to eight per core, and
    each keeps the memory freed into it: an ingest's sixteen fetch threads, its Prefect threads
    and its task threads held about 110 MB more at the 2000-page benchmark's peak (PSS of the
    process tree, 918 against 806 MB). This is MALLOC_ARENA_MAX, set from inside the process
    so that every way of running the flow gets it; a MALLOC_ARENA_MAX already in the
    environment wins, and outside glibc there is nothing to cap.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may use: its CPU affinity (taskset, a container's cpuset), capped
    by its cgroup's CPU quota rounded up (a container's --cpus, a Kubernetes CPU limit).

    os.cpu_count() counts the host's cores: a pod limited to one CPU on a 32-core node would fork
    32 extraction processes, each over a hundred MB, to share that one CPU. `cgroup` is where
    the cgroup file system is mounted: v2's cpu.max, or v1's cpu/cpu.cfs_quota_us and period.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    quota = _cpu_quota(cgroup)
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


def _cpu_quota(cgroup: Path) -> float | None:
    """The cgroup's CPU quota in CPUs, None when it sets none or cannot be read."""
    try:
        if (cgroup / "cpu.max").exists():
            quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        else:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        if quota in ("max", "-1"):
            return None
        return int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


class TaskRunnerName(StrEnum):
    """Where the CPU-bound stages (clean, dedupe) run: this machine's threads, or a Dask cluster."""

    threads = "threads"
    dask = "dask"


class ExtractionMode(StrEnum):
    """How much work the clean stage spends on a page's text and date (README: Extraction quality).

    thorough: trafilatura's precise run widened by its balanced run, each with its readability and
    jusText fallbacks, and htmldate's extensive date search; the best text and dates.
    fast: one balanced run without fallbacks, and htmldate's quick date search; about half the
    CPU a page, text still scored above trafilatura's defaults, fewer pages dated right.
    """

    thorough = "thorough"
    fast = "fast"


class FetchSettings(BaseModel):
    """How politely and defensively pages are fetched."""

    user_agent: str = USER_AGENT
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect")
    read_timeout: float = Field(20.0, gt=0, description="Seconds between bytes of the response")
    total_timeout: float = Field(60.0, gt=0, description="Seconds for one whole attempt")
    max_bytes: int = Field(
        5_000_000,
        gt=0,
        description="Byte cap of a page, enforced while streaming (feeds and sitemaps: 50 MB)",
    )
    max_redirects: int = Field(5, ge=0)
    max_retries: int = Field(3, ge=0, description="Retries after the first attempt")
    backoff_base: float = Field(
        0.5, ge=0, description="First backoff in seconds, doubled each retry"
    )
    backoff_max: float = Field(30.0, ge=0, description="Cap on one backoff, Retry-After included")
    max_workers: int = Field(16, ge=1, description="Concurrent requests over all hosts")
    per_host_concurrency: int = Field(2, ge=1, description="Concurrent requests to one host")
    per_host_delay: float = Field(
        0.25, ge=0, description="Minimum seconds between request starts per host"
    )
    respect_robots: bool = True
    allow_private_hosts: bool = False


class Settings(BaseModel):
    """Everything a run needs, as plain values."""

    db: str = DEFAULT_DB
    batch_size: int = Field(200, ge=1, le=5000, description="Pages per fetch/clean/load batch")
    clean_workers: int = Field(
        0, ge=0, description="Extraction processes; 0 means one per usable core (usable_cores)"
    )
    extraction: ExtractionMode = Field(
        ExtractionMode.thorough, description="Clean stage effort a page: thorough or fast"
    )
    clean_page_seconds: float = Field(
        CLEAN_PAGE_SECONDS, gt=0, description="Seconds an extraction process may spend on a page"
    )
    task_runner: TaskRunnerName = Field(
        TaskRunnerName.threads, description="Where clean and dedupe run: threads or dask"
    )
    dask_address: str | None = Field(
        None, description="Dask scheduler (tcp://host:8786); none starts a local cluster"
    )
    dask_workers: int = Field(
        0, ge=0, description="Local Dask cluster processes; 0: one per usable core"
    )
    lock_wait_seconds: float = Field(
        60.0, ge=0, description="How long a writer waits for the file lock"
    )
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    sources: list[dict[str, Any]] = Field(default_factory=list)

    def source_list(self) -> list[Source]:
        return [
            Source(
                name=s["name"], kind=s["kind"], location=s["location"], options=s.get("options", {})
            )
            for s in self.sources
        ]


def _env_overrides() -> dict[str, Any]:
    """Settings that env vars set: NEWSFLOW_DB and NEWSFLOW_ALLOW_PRIVATE_HOSTS."""
    overrides: dict[str, Any] = {}
    if os.environ.get("NEWSFLOW_DB"):
        overrides["db"] = os.environ["NEWSFLOW_DB"]
    if os.environ.get("NEWSFLOW_ALLOW_PRIVATE_HOSTS", "").lower() in _TRUE:
        overrides["allow_private_hosts"] = True
    return overrides


def read_sources_file(path: str | Path) -> dict[str, Any]:
    """Read a sources TOML file: a [settings] table and [[source]] (name, kind, location)."""
    path = Path(path)
    if not path.is_file():
        # relative: a deployment's deployments/sources.toml, on a worker started elsewhere than
        # the checkout (no NEWSFLOW_HOME) read as if the file were missing (QA)
        where = (
            ""
            if path.is_absolute()
            else f" in {Path.cwd()} (a worker's runs start in its NEWSFLOW_HOME)"
        )
        raise FileNotFoundError(
            f"sources file {path} does not exist{where}; create it, or pass another (--sources "
            "FILE, or the flows' sources_file)"
        )
    with path.open("rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"sources file {path} is not valid TOML: {exc}") from None
    _refuse_unknown(set(data) - _FILE_TABLES, f"sources file {path} has", "table", _FILE_TABLES)
    settings, entries = data.get("settings", {}), data.get("source", [])
    if not isinstance(settings, dict):
        raise ValueError(
            f"sources file {path} has settings = {settings!r}; write a [settings] table"
        )
    if not isinstance(entries, list) or not all(isinstance(raw, dict) for raw in entries):
        raise ValueError(
            f"sources file {path} has a source that is not a [[source]] table; write each source "
            "under its own [[source]] (two brackets)"
        )
    base = path.resolve().parent
    sources = []
    for raw in entries:
        _check_source(raw, path)
        if raw.get("enabled", True) is False:
            continue
        name, location = raw["name"].strip(), raw["location"].strip()  # "x " is "x"
        if any(source["name"] == name for source in sources):
            raise ValueError(
                f"two enabled sources in {path} are named {name!r}; give each its own "
                "name (it is recorded with every fetch and article of the source)"
            )
        options = {k: v for k, v in raw.items() if k not in {"name", "kind", "location", "enabled"}}
        if "://" not in location:  # a file: ~ is the home folder, as on the command line
            location = str((base / Path(location).expanduser()).resolve())  # else the file's own
        sources.append(
            {"name": name, "kind": raw["kind"], "location": location, "options": options}
        )
    return {"settings": settings, "sources": sources}


def _check_source(raw: dict[str, Any], path: Path) -> None:
    """A [[source]] with every key it needs, only keys newsflow reads, and a known kind."""
    missing = {"name", "kind", "location"} - raw.keys()
    if missing:
        raise ValueError(f"source {raw!r} in {path} lacks {', '.join(sorted(missing))}")
    for key in ("name", "kind", "location"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise ValueError(
                f"source {raw!r} in {path} has {key} = {raw[key]!r}; it needs a non-empty string"
            )
    name = raw["name"]
    _refuse_unknown(set(raw) - _SOURCE_KEYS, f"source {name!r} in {path} has", "key", _SOURCE_KEYS)
    source = Source(
        name, raw["kind"], raw["location"], {k: raw[k] for k in _SOURCE_OPTIONS & raw.keys()}
    )
    try:
        source.item_limit()
        source.trusts_lastmod()
    except ValueError as err:
        raise ValueError(f"source {name!r} in {path}: {err}") from None
    if "trust_lastmod" in raw and raw["kind"] != "sitemap":
        raise ValueError(
            f"source {name!r} in {path} has trust_lastmod, which only a sitemap source reads"
        )
    if not isinstance(raw.get("enabled", True), bool):
        raise ValueError(
            f"source {name!r} in {path} has enabled = {raw['enabled']!r}; use true or false"
        )
    if raw["kind"] not in _KINDS:
        raise ValueError(
            f"source {name!r} in {path} has kind {raw['kind']!r}; use {', '.join(sorted(_KINDS))}"
        )
    if raw["kind"] == "path" and raw["location"].strip().lower().startswith(_WEB_SCHEMES):
        raise ValueError(
            f"source {name!r} in {path} is a path source at a URL, {raw['location']!r}; a path "
            'source reads saved pages on disk: for pages on the web use kind "urls", "feed" or '
            '"sitemap"'
        )


def _refuse_unknown(unknown: set[str], owner: str, what: str, known: set[str]) -> None:
    """A misspelt key would be ignored, its source or setting silently left out: refuse it."""
    if unknown:
        names, known_names = ", ".join(sorted(unknown)), ", ".join(sorted(known))
        raise ValueError(f"{owner} unknown {what} {names}; known: {known_names}")


def load_settings(sources_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build Settings: defaults < sources file [settings] < env vars < overrides (CLI flags)."""
    values: dict[str, Any] = {}
    fetch_values: dict[str, Any] = {}
    if sources_file:
        data = read_sources_file(sources_file)
        values["sources"] = data["sources"]
        _split(data["settings"], values, fetch_values, f" in {sources_file} [settings]")
    _split(_env_overrides(), values, fetch_values)
    _split({k: v for k, v in overrides.items() if v is not None}, values, fetch_values)
    try:
        settings = Settings(**values, fetch=FetchSettings(**fetch_values))
    except ValidationError as exc:
        raise ValueError(_bad_setting(exc, sources_file)) from None
    if settings.dask_address and not _DASK_ADDRESS.fullmatch(settings.dask_address):
        raise ValueError(  # it was distributed's "missing port number in address 'notaurl'"
            f"dask_address {settings.dask_address!r} is not a Dask scheduler's address; use "
            "tcp://HOST:PORT (--dask-address, or dask_address)"
        )
    if settings.dask_address and settings.task_runner is not TaskRunnerName.dask:
        raise ValueError(
            f"a Dask scheduler address ({settings.dask_address}) is set but the task runner is "
            f'{settings.task_runner}; pass --task-runner dask (task_runner = "dask" in a '
            "sources file, --param task_runner=dask for a deployment run)"
        )
    return settings


def _bad_setting(exc: ValidationError, sources_file: str | Path | None) -> str:
    """The first bad value in one line: the setting, the value, what is wrong, where it was set."""
    error = exc.errors()[0]
    name = ".".join(str(part) for part in error["loc"] if part != "fetch") or exc.title
    where = f" (in {sources_file}, or a flag or env var)" if sources_file else ""
    return f"setting {name} = {error.get('input')!r}{where}: {error['msg']}"


def _split(
    flat: dict[str, Any], values: dict[str, Any], fetch_values: dict[str, Any], where: str = ""
) -> None:
    """Route flat keys to Settings or FetchSettings by name."""
    for key, value in flat.items():
        if key in FetchSettings.model_fields:
            fetch_values[key] = value
        elif key in _known_keys():
            values[key] = value
        else:
            known = ", ".join(sorted(_known_keys()))
            raise ValueError(f"unknown setting {key!r}{where}; known: {known}")


def _known_keys() -> set[str]:
    return (set(Settings.model_fields) | set(FetchSettings.model_fields)) - {"fetch", "sources"}
