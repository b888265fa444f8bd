"""Fetch a zoo's weights from a store that names each file by its sha256,
for the CI examples (github-actions-zoo.yml, kubernetes-zoo.yml). srconvert
itself downloads nothing; this script is the part a zoo's CI adapts.

    WEIGHTS_URL=https://store.example/weights python zoo_weights.py INDEX DEST
        every supported entry's preferred weights (what the plan job needs)
    ... zoo_weights.py INDEX DEST --plan plan.json --shard 3/16
        only that shard's, under the names plan.json gives

Each file is fetched from $WEIGHTS_URL/<sha256>, checked against the sha256
and size its entry names, and written under DEST atomically; a file already
there with the right hash is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import urllib.request
from pathlib import Path

from converter.core.hashing import sha256_file
from converter.zoo import families
from converter.zoo.index import Entry, read


def wanted(index: Path, plan: Path | None, shard: str | None) -> list[tuple[str, int, str]]:
    """(sha256, size, file name under DEST) for each file to fetch."""
    entries = [e for e in read(index) if isinstance(e, Entry)]
    if plan is None:
        return [(e.weights[0].sha256, e.weights[0].size, f"{e.weights[0].sha256}.{e.weights[0].type}")
                for e in entries if e.weights
                and families.reason_left_out(e.architecture, e.input_channels, e.output_channels) is None]
    sizes = {r.sha256: r.size for e in entries for r in e.weights}
    records = json.loads(plan.read_text(encoding="utf-8"))["entries"]
    mine = [(r["sha256"], sizes[r["sha256"]], r["weights"]) for r in records if r["shard"] == shard]
    for _, _, name in mine:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise SystemExit(f"error: {plan}: weights name {name!r} leaves the weights folder")
    return mine


def fetch(base: str, sha256: str, size: int, target: Path) -> bool:
    """True when the file was fetched, False when it was already there."""
    if target.is_file() and target.stat().st_size == size and sha256_file(target) == sha256:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with urllib.request.urlopen(f"{base.rstrip('/')}/{sha256}") as response, open(partial, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)
    if partial.stat().st_size != size or sha256_file(partial) != sha256:
        partial.unlink()
        raise SystemExit(f"error: {base}/{sha256} is not the file its entry names (size or sha256 differ)")
    os.replace(partial, target)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--plan", type=Path)
    parser.add_argument("--shard")
    args = parser.parse_args(argv)
    if (args.plan is None) != (args.shard is None):
        parser.error("--plan and --shard go together")
    base = os.environ.get("WEIGHTS_URL")
    if not base:
        parser.error("set WEIGHTS_URL to the store that names weights by sha256")
    files = wanted(args.index, args.plan, args.shard)
    fetched = sum(fetch(base, sha256, size, args.dest / name) for sha256, size, name in files)
    print(f"{len(files)} weights files in {args.dest} ({fetched} fetched)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
