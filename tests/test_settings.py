"""Settings from a sources file, env vars and flags: a misspelt or bad entry fails in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.settings import load_settings
from tests.conftest import ROOT

SOURCE = '[[source]]\nname = "s"\nkind = "path"\nlocation = "pages"\n'


def _sources_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    return path


def test_the_bundled_sources_file_loads() -> None:
    settings = load_settings(ROOT / "deployments" / "sources.toml")
    assert [(s.name, s.kind) for s in settings.source_list()] == [("samples", "path")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (  # [[sources]]: the source would be dropped and the run would find nothing to ingest
            SOURCE.replace("[[source]]", "[[sources]]"),
            "sources file {path} has unknown table sources; known: settings, source",
        ),
        (
            "[setings]\nbatch_size = 3\n" + SOURCE,
            "sources file {path} has unknown table setings; known: settings, source",
        ),
        (  # the limit would be ignored: every item of the source fetched
            SOURCE + "limt = 10\n",
            "source 's' in {path} has unknown key limt; known: enabled, kind, limit, location, "
            "name, trust_lastmod",
        ),
        (
            SOURCE.replace('"path"', '"paths"'),
            "source 's' in {path} has kind 'paths'; use feed, path, sitemap, urls",
        ),
        (
            "[settings]\nbatchsize = 3\n" + SOURCE,
            "unknown setting 'batchsize' in {path} [settings]; known: allow_private_hosts,",
        ),
        (
            "[settings]\nsources = []\n" + SOURCE,
            "unknown setting 'sources' in {path} [settings]; known: allow_private_hosts,",
        ),
        (
            "[settings]\nbatch_size = -3\n" + SOURCE,
            "setting batch_size = -3 (in {path}, or a flag or env var): Input should be greater "
            "than or equal to 1",
        ),
        (
            '[settings]\nread_timeout = "long"\n' + SOURCE,
            "setting read_timeout = 'long' (in {path}, or a flag or env var): Input should be a "
            "valid number, unable to parse string as a number",
        ),
        (
            SOURCE + SOURCE.replace('"pages"', '"archive"'),
            "two enabled sources in {path} are named 's'; give each its own name (it is "
            "recorded with every fetch and article of the source)",
        ),
        (  # a string is true: the source would run
            SOURCE + 'enabled = "no"\n',
            "source 's' in {path} has enabled = 'no'; use true or false",
        ),
        (  # a string is true: its lastmod would be trusted
            SOURCE.replace('"path"', '"sitemap"') + 'trust_lastmod = "no"\n',
            "source 's' in {path}: trust_lastmod must be true or false, not 'no'",
        ),
        (  # a folder has no lastmod: the option would do nothing
            SOURCE + "trust_lastmod = false\n",
            "source 's' in {path} has trust_lastmod, which only a sitemap source reads",
        ),
        (  # resolved against the file's folder: the run ingested that folder
            SOURCE.replace('"pages"', '""'),
            "source {{'name': 's', 'kind': 'path', 'location': ''}} in {path} has location = '';"
            " it needs a non-empty string",
        ),
        (
            SOURCE.replace('"s"', '" "'),
            "source {{'name': ' ', 'kind': 'path', 'location': 'pages'}} in {path} has name = ' ';"
            " it needs a non-empty string",
        ),
        (
            SOURCE.replace('"pages"', "5"),
            "source {{'name': 's', 'kind': 'path', 'location': 5}} in {path} has location = 5;"
            " it needs a non-empty string",
        ),
        (  # a full run, then a bad_option row for the source
            SOURCE + 'limit = "5"\n',
            "source 's' in {path}: limit must be a whole number >= 1, not '5' (leave it out for "
            "no limit)",
        ),
        (  # 0 took nothing, silently: written for "no limit"
            SOURCE + "limit = 0\n",
            "source 's' in {path}: limit must be a whole number >= 1, not 0 (leave it out for "
            "no limit)",
        ),
        (  # one bracket: a table of keys, which a traceback met as text
            SOURCE.replace("[[source]]", "[source]"),
            "sources file {path} has a source that is not a [[source]] table; write each source "
            "under its own [[source]] (two brackets)",
        ),
        (
            'settings = "fast"\n' + SOURCE,
            "sources file {path} has settings = 'fast'; write a [settings] table",
        ),
        (  # a URL as a path source's place: a folder "http:" was looked for, its // made /
            SOURCE.replace('"pages"', '"https://a.org/news/1.html"'),
            "source 's' in {path} is a path source at a URL, 'https://a.org/news/1.html'; a path "
            'source reads saved pages on disk: for pages on the web use kind "urls", "feed" or '
            '"sitemap"',
        ),
        (
            "[settings\n" + SOURCE,
            "sources file {path} is not valid TOML: Expected ']' at the end of a table "
            "declaration (at line 1, column 10)",
        ),
    ],
)
def test_a_sources_file_entry_newsflow_would_ignore_or_misread_is_refused_in_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _sources_file(tmp_path, text)
    with pytest.raises(ValueError) as raised:
        load_settings(path)
    assert str(raised.value).startswith(message.format(path=path))
    assert "\n" not in str(raised.value)


def test_a_missing_relative_sources_file_names_the_folder_it_was_looked_for_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment's deployments/sources.toml, on a worker started outside the checkout (no
    NEWSFLOW_HOME for its pull step): the error said only that the file does not exist (QA)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as missing:
        load_settings("deployments/sources.toml")
    assert str(missing.value) == (
        f"sources file deployments/sources.toml does not exist in {tmp_path} (a worker's runs "
        "start in its NEWSFLOW_HOME); create it, or pass another (--sources FILE, or the flows' "
        "sources_file)"
    )


def test_a_dask_address_that_is_none_is_refused_naming_the_option() -> None:
    """--dask-address notaurl said distributed's "missing port number in address 'notaurl'",
    without naming the option (QA)."""
    for address in ("tcp://10.0.0.5:8786", "10.0.0.5:8786", "tls://[::1]:8786"):
        assert load_settings(task_runner="dask", dask_address=address).dask_address == address
    with pytest.raises(ValueError) as refused:
        load_settings(task_runner="dask", dask_address="notaurl")
    assert str(refused.value) == (
        "dask_address 'notaurl' is not a Dask scheduler's address; use tcp://HOST:PORT "
        "(--dask-address, or dask_address)"
    )


def test_a_bad_flag_value_names_the_setting() -> None:
    with pytest.raises(ValueError) as raised:
        load_settings(batch_size=0)
    assert str(raised.value) == "setting batch_size = 0: Input should be greater than or equal to 1"


def test_a_disabled_source_and_its_limit_are_read(tmp_path: Path) -> None:
    text = SOURCE + "limit = 5\n" + SOURCE.replace('"s"', '"off"') + "enabled = false\n"
    sitemap = SOURCE.replace('"s"', '"map"').replace('"path"', '"sitemap"')
    text += sitemap + "trust_lastmod = false\n"
    sources = load_settings(_sources_file(tmp_path, text)).source_list()
    assert [(s.name, s.options) for s in sources] == [
        ("s", {"limit": 5}),
        ("map", {"trust_lastmod": False}),
    ]
    assert [s.trusts_lastmod() for s in sources] == [True, False]


def test_a_disabled_source_may_share_its_name_with_the_enabled_one(tmp_path: Path) -> None:
    """Two locations kept under one name, one switched off: only one is ever recorded."""
    text = SOURCE + "enabled = false\n" + SOURCE.replace('"pages"', '"archive"')
    sources = load_settings(_sources_file(tmp_path, text)).source_list()
    assert [(s.name, s.location) for s in sources] == [("s", str(tmp_path.resolve() / "archive"))]


def test_a_sources_place_and_name_are_read_as_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`~/one.txt` was looked for as a folder named ~ beside the sources file (--path ~/… and
    --urls-file ~/… read the home folder); a space around a location was requested with it
    (`…/one.txt%20`), and `"x "` passed as another name than `"x"`."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    text = SOURCE.replace('"pages"', '"~/saved"')
    text += '[[source]]\nname = " list "\nkind = "urls"\nlocation = " https://a.org/l.txt "\n'
    sources = load_settings(_sources_file(tmp_path, text)).source_list()
    assert [(s.name, s.location) for s in sources] == [
        ("s", str(tmp_path / "home" / "saved")),
        ("list", "https://a.org/l.txt"),
    ]
    twice = SOURCE + SOURCE.replace('"s"', '"s "')
    with pytest.raises(ValueError, match="two enabled sources in .* are named 's'"):
        load_settings(_sources_file(tmp_path, twice))


def test_a_flag_beats_an_env_var_which_beats_the_sources_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """defaults < sources file [settings] < env vars < flags, as load_settings promises."""
    path = _sources_file(tmp_path, '[settings]\ndb = "from-file.duckdb"\nbatch_size = 7\n')
    monkeypatch.delenv("NEWSFLOW_DB", raising=False)
    assert (load_settings(path).db, load_settings(path).batch_size) == ("from-file.duckdb", 7)
    monkeypatch.setenv("NEWSFLOW_DB", "from-env.duckdb")
    assert load_settings(path).db == "from-env.duckdb"
    flagged = load_settings(path, db="from-flag.duckdb", batch_size=3)
    assert (flagged.db, flagged.batch_size) == ("from-flag.duckdb", 3)
    assert load_settings(path, db=None).db == "from-env.duckdb"  # a flag not given sets nothing
