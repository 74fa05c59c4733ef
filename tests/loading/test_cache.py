"""The compiled-rules cache: a hit is the same rule set down to every span, anything changed or
damaged is rebuilt, and a cache that cannot be used changes nothing."""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policyengine import ir
from policyengine.errors import RuleLoadErrors
from policyengine.loading import cache
from policyengine.loading.rules import compile_rules, load_rules, rule_sources
from tests.conftest import rule_text

Write = Callable[[str, str], Path]

SPEC = """
resource: Microsoft.DBforPostgreSQL/flexibleServers
condition: {field: properties.version, in: ["15", "16"]}
tests:
  - name: new
    resource: {properties: {version: "16"}}
    expect: pass
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(where))
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    return where


def deep(value: Any) -> Any:
    """Every field of an IR value, spans included (they are left out of ``==``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,
                tuple((f.name, deep(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, (list, tuple)):
        return tuple(deep(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, deep(v)) for k, v in value.items()))
    return value


def entries(where: Path) -> list[Path]:
    return sorted(where.glob("rules-*.pickle"))


def test_a_hit_gives_the_same_rules_spans_conditions_and_tests(cache_dir: Path, write: Write) -> None:
    user = write("mine.yaml", rule_text(SPEC, rule_id="T-CACHE-1"))
    fresh = compile_rules(rule_sources([user]))
    miss = load_rules([user])
    assert len(entries(cache_dir)) == 1
    hit = load_rules([user])
    assert [r.id for r in hit] == [r.id for r in fresh]
    assert "T-CACHE-1" in [r.id for r in hit]
    assert deep(hit) == deep(miss) == deep(fresh)
    mine = next(r for r in hit if r.id == "T-CACHE-1")
    assert mine.span is not None and mine.span.file == str(user) and mine.span.line == 4
    assert mine.tests[0].name == "new" and mine.tests[0].span is not None


def test_an_edited_rule_file_misses(cache_dir: Path, write: Write) -> None:
    user = write("mine.yaml", rule_text(SPEC, rule_id="T-CACHE-1"))
    assert "T-CACHE-1" in [r.id for r in load_rules([user])]
    write("mine.yaml", rule_text(SPEC, rule_id="T-CACHE-2"))
    ids = [r.id for r in load_rules([user])]
    assert "T-CACHE-2" in ids and "T-CACHE-1" not in ids
    assert len(entries(cache_dir)) == 2


def test_a_corrupt_entry_is_rebuilt_silently(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = load_rules([])
    (entry,) = entries(cache_dir)
    for damage in (b"", b"not a pickle at all", entry.read_bytes()[:100]):
        entry.write_bytes(damage)
        assert deep(load_rules([])) == deep(first)
        assert entry.read_bytes() != damage  # written again, whole
    assert capsys.readouterr() == ("", "")


def test_an_entry_from_another_key_is_not_trusted(cache_dir: Path, write: Write) -> None:
    user = write("mine.yaml", rule_text(SPEC, rule_id="T-CACHE-1"))
    load_rules([])
    load_rules([user])
    bundled, mine = (cache.digest(rule_sources(p)) for p in ([], [user]))
    assert bundled and mine
    # The user's entry copied over the bundled set's: same format, other key inside.
    (cache_dir / f"rules-{mine}.pickle").replace(cache_dir / f"rules-{bundled}.pickle")
    assert "T-CACHE-1" not in [r.id for r in load_rules([])]


def test_a_cache_that_cannot_be_written_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(blocker / "cache"))
    assert deep(load_rules([])) == deep(compile_rules(rule_sources([])))


def test_a_read_only_cache_dir_still_loads(cache_dir: Path) -> None:
    cache_dir.mkdir(mode=0o500)
    try:
        assert deep(load_rules([])) == deep(compile_rules(rule_sources([])))
    finally:
        cache_dir.chmod(0o700)
    if os.geteuid() != 0:  # root writes through the mode bits
        assert entries(cache_dir) == []


def test_a_directory_others_can_write_is_neither_read_nor_written(cache_dir: Path) -> None:
    cache_dir.mkdir()
    cache_dir.chmod(0o777)
    load_rules([])
    assert entries(cache_dir) == []
    cache_dir.chmod(0o700)
    load_rules([])
    (entry,) = entries(cache_dir)
    assert not stat.S_IMODE(entry.stat().st_mode) & 0o077


def test_rule_errors_are_reported_every_time_and_never_cached(cache_dir: Path, write: Write) -> None:
    bad = write("bad.yaml", rule_text(SPEC.replace("in:", "inn:")))
    said = []
    for _ in range(2):
        with pytest.raises(RuleLoadErrors) as info:
            load_rules([bad])
        said.append([str(e) for e in info.value.errors])
    assert said[0] == said[1] and "unknown operator 'inn'" in said[0][0]
    assert said[0][0].startswith(f"{bad}:")
    assert entries(cache_dir) == []


def test_no_cache_env_turns_it_off(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.NO_CACHE_ENV, "1")
    load_rules([])
    assert not cache_dir.exists()


def test_the_default_place_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "policyengine"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == Path.home() / ".cache" / "policyengine"


def test_rules_are_ir(cache_dir: Path) -> None:
    assert all(isinstance(r, ir.Rule) for r in load_rules([]))
