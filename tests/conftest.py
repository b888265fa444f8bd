"""Shared test set-up: the model fixtures (built once by fixtures/make_fixtures.py)
and helpers to run srconvert the way users do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "build"
STAMP = FIXTURES / ".stamp"
INDEPENDENT_JS = ROOT / "tests" / "js" / "independent_layers.cjs"

RRDN_SOURCES = ["rrdn_keras2.h5", "rrdn_keras3.keras", "rrdn_keras3.h5", "rrdn_savedmodel", "rrdn_tfjs", "rrdn_upscalerjs_tfjs"]
RDN_SOURCES = ["rdn_keras2.h5", "rdn_keras3.keras", "rdn_keras3.h5", "rdn_savedmodel", "rdn_tfjs"]
ALL_SOURCES = RRDN_SOURCES + RDN_SOURCES


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The model fixtures; `make test` builds them, a bare `pytest` too."""
    if not STAMP.exists():
        subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_fixtures.py"), str(FIXTURES)], check=True)
        STAMP.touch()
    return FIXTURES


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`srconvert ARGS` in a fresh process, as a shell or CI job runs it."""
    return subprocess.run(
        [sys.executable, "-m", "converter", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
        timeout=600,
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    """Exit code as documented, one or two lines on stderr, no traceback."""
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
