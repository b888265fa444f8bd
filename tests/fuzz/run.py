"""`make fuzz`: every fuzz target of tests/fuzz/harness.py for a set time,
two at a time, each in its own process, then a table of executions,
coverage and findings per format.

    python tests/fuzz/run.py [--seconds 600] [--jobs 2] [FORMAT ...]

Each target's growing corpus and its crashes are kept in
fixtures/build/fuzz/<format>/ (not committed). A crash is a finding: minimise
it (libFuzzer's -minimize_crash=1), fix the class of defect, and add the
file to tests/fuzz/corpus/<format>/, which `make test` replays."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BUILD, TARGETS  # noqa: E402

OUT = BUILD / "fuzz"
TIMEOUT = 180
"""Seconds one input may take: above srconvert's own deadline floor
(converter.core.deadline.FLOOR_SECONDS, 120 s), which a small seed's reading
never nears, so that a timeout is an input past every budget srconvert has."""
STATS = re.compile(r"#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+) corp: (\d+)")


def run(name: str, seconds: int) -> dict:
    folder = OUT / name
    corpus, seeds = folder / "corpus", folder / "seeds"
    for path in (corpus, seeds):
        path.mkdir(parents=True, exist_ok=True)
    (seeds / TARGETS[name].file_name).write_bytes(TARGETS[name].seed_bytes())
    command = [sys.executable, str(Path(__file__).with_name("harness.py")), name, f"-max_total_time={seconds}",
               f"-timeout={TIMEOUT}", "-rss_limit_mb=4096", "-print_final_stats=1",
               f"-artifact_prefix={folder}/", str(corpus), str(seeds)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, errors="replace")
    (folder / "log.txt").write_text(done.stderr)
    found = STATS.findall(done.stderr)
    executions, cov, features, corp = (int(v) for v in found[-1]) if found else (0, 0, 0, 0)
    crashes = sorted(p.name for p in folder.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-", "leak-")))
    return {"format": name, "seconds": round(time.monotonic() - started), "executions": executions,
            "coverage": cov, "features": features, "corpus": corp, "findings": crashes, "exit": done.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("formats", nargs="*", default=sorted(TARGETS))
    args = parser.parse_args()
    unknown = [name for name in args.formats if name not in TARGETS]
    if unknown:
        parser.error(f"unknown format {unknown[0]}; the targets are {', '.join(sorted(TARGETS))}")
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda name: run(name, args.seconds), args.formats))
    print("| format | seconds | executions | coverage (edges) | corpus | findings |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['format']} | {row['seconds']} | {row['executions']:,} | {row['coverage']} | {row['corpus']} | "
              f"{', '.join(row['findings']) or 'none'} |")
    return 1 if any(row["findings"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
