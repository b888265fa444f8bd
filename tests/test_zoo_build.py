"""`srconvert zoo build` and `zoo merge`, end to end on fixture checkpoints
(random weights, spandrel's code): three shards as three concurrent
processes, merged byte-identical to one shard; the cache; a model whose
float16 fails its gate published without it, and a model that fails whole
recorded without stopping the others."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT, assert_clean_error, run_cli

pytestmark = pytest.mark.slow

MODELS = {"2x-Fixture-Compact": "compact", "2x-Fixture-SPAN": "span", "2x-Fixture-ESRGAN": "esrgan"}
PARTIAL = "2x-Fixture-Compact-Overflow"
"""Weights float16 cannot hold (above 65504): its float16 artifacts compute inf, the rest pass."""
BROKEN = "2x-Fixture-Compact-Inf"
"""Weights whose float32 output is not finite: nothing can be verified against it."""
WITHHELD = {"tfjs/float16/model.json": "not published: measured -inf dB in tfjs-wasm against gate >= 60 dB",
            "onnx/float16/model.onnx": "not published: measured -inf dB in onnxruntime; -inf dB in onnxruntime-web "
                                       "against gate >= 60 dB"}


def _entry(index, entry_id, architecture, weights):
    data = weights.read_bytes()
    entry = {"name": entry_id.replace("-", " "), "author": "srconvert-tests", "license": "CC0-1.0",
             "tags": ["photo", "restoration"], "description": f"A random-weight {architecture} for tests.\n\nMore.",
             "date": "2024-03-07", "architecture": architecture, "size": None, "scale": 2,
             "inputChannels": 3, "outputChannels": 3, "images": [],
             "resources": [{"platform": "pytorch", "type": "pth", "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(), "urls": [f"https://example.org/{weights.name}"]}]}
    (index / f"{entry_id}.json").write_text(json.dumps(entry, indent=2))


@pytest.fixture(scope="module")
def zoo_inputs(checkpoints_dir, tmp_path_factory):
    import torch

    root = tmp_path_factory.mktemp("zoo")
    index, weights = root / "index", root / "weights"
    index.mkdir()
    weights.mkdir()
    for entry_id, family in MODELS.items():
        shutil.copy(checkpoints_dir / f"{family}.pth", weights / f"{family}.pth")
        _entry(index, entry_id, family, weights / f"{family}.pth")
    for entry_id, name, scaled in ((PARTIAL, "overflow.pth", lambda w: w * 1e6),
                                   (BROKEN, "inf.pth", lambda w: torch.sign(w) * 3e38)):
        state = torch.load(checkpoints_dir / "compact.pth", weights_only=True)
        body = state["params"]
        last = sorted(k for k in body if k.endswith("weight"))[-1]
        body[last] = scaled(body[last])
        torch.save(state, weights / name)
        _entry(index, entry_id, "compact", weights / name)
    shutil.copy(ROOT / "fixtures" / "openmodeldb" / "models" / "2x-cainREALTIME.json", index)  # never built
    return index, weights


def _tree(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _identical(a, b):
    files = _tree(a)
    assert files == _tree(b)
    return [f for f in files if not filecmp.cmp(a / f, b / f, shallow=False)]


@pytest.fixture(scope="module")
def one_shard(zoo_inputs, tmp_path_factory):
    index, weights = zoo_inputs
    # One machine: its weights and DIST side by side, as on each machine of the 3-shard build below (the
    # manifest records the weights' path relative to the release, for `verify`).
    root = tmp_path_factory.mktemp("one")
    shutil.copytree(weights, root / "weights")
    weights = root / "weights"
    started = time.monotonic()
    result = run_cli("zoo", "build", index, "--weights-dir", weights, "-o", root / "dist", "--cache", root / "cache",
                     "-j", "2")
    cold = time.monotonic() - started
    return root, result, cold


def test_a_shard_builds_every_model_and_records_the_one_that_fails(one_shard, zoo_inputs):
    root, result, _ = one_shard
    assert result.returncode == 1, result.stderr  # a parity failure, and the others built
    assert "Traceback" not in result.stderr and f"{BROKEN}:" in result.stderr
    assert "4 of 5 models built, 1 failed" in result.stderr
    record = json.loads((root / "dist" / "zoo-shard-1-of-1.json").read_text())
    assert set(record["plan"]) == {*MODELS, PARTIAL, BROKEN}  # the video network is not planned
    assert record["models"][BROKEN]["exit_code"] == 1 and record["models"][BROKEN]["folder"] is None
    assert "not finite" in record["models"][BROKEN]["reason"]
    assert not (root / "dist" / BROKEN).exists() and (root / "dist" / f"{BROKEN}.failed").is_dir()
    for entry_id in MODELS:
        assert record["models"][entry_id] == {"exit_code": 0, "folder": entry_id, "failed_folder": None, "reason": None,
                                              "not_published": []}
        release = root / "dist" / entry_id
        package = json.loads((release / "package.json").read_text())
        assert package["name"] == entry_id.lower() and package["version"] == "2024.3.7"
        assert package["license"] == "CC0-1.0" and package["author"] == "srconvert-tests"
        assert {"photo", "restoration"} <= set(package["keywords"])
        card = (release / "README.md").read_text()
        assert "| authors | srconvert-tests |" in card and "| tags | photo, restoration |" in card
        assert f"| upstream | https://openmodeldb.info/models/{entry_id} |" in card
        assert "| input range | [0.0, 1.0] (assumed: OpenModelDB states no range;" in card  # a guess, said so
        manifest = json.loads((release / "manifest.json").read_text())
        assert manifest["parity"]["verified"] and manifest["release"]["metadata"]["openmodeldb"] == entry_id
        assert manifest["release"]["metadata"]["authors"] == ["srconvert-tests"]
        assert manifest["source"]["architecture"]["family"].lower() == MODELS[entry_id]
    # Nobody asked for float16 by name: the release is published with what passed, and says what it left out.
    assert record["models"][PARTIAL]["exit_code"] == 0
    assert record["models"][PARTIAL]["not_published"] == [f"{entry}: {reason}" for entry, reason in WITHHELD.items()]
    release = root / "dist" / PARTIAL
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["parity"]["pass"] is True
    assert {r["entry"]: r["reason"] for r in manifest["parity"]["not_published"]} == WITHHELD
    assert {a["precision"] for a in manifest["artifacts"]} == {"float32", "uint8"}
    assert not (release / "tfjs" / "float16").exists() and not (release / "onnx" / "float16").exists()
    card = (release / "README.md").read_text()
    assert card.startswith(f"# {PARTIAL.lower()} 2024.3.7\n\n**Verdict: PASS for what is published.")
    assert all(f"- `{entry}`: {reason}" in card for entry, reason in WITHHELD.items())
    assert "here('./tfjs/uint8/model.json')" in (release / "model.js").read_text()
    parity_md = (release / "parity.md").read_text()  # what ran is reported, published or not
    assert "| tfjs/float16/model.json |" in parity_md and "FAILED:" not in parity_md


def test_three_concurrent_shards_merge_byte_identical_to_one(one_shard, zoo_inputs, tmp_path):
    index, weights = zoo_inputs
    root, _, _ = one_shard
    planned = run_cli("zoo", "plan", index, "--weights-dir", weights, "--shards", "3", "--json").stdout
    plan = json.loads(planned)
    assert plan["matrix"]["include"] == [{"shard": f"{i}/3"} for i in (1, 2, 3)]
    (tmp_path / "plan.json").write_text(planned)
    # As on a CI matrix: each machine holds only its own shard's weights, and builds the plan job's plan.
    machines = {i: tmp_path / f"m{i}" for i in (1, 2, 3)}
    shards = [machines[i] / "dist" for i in (1, 2, 3)]
    for i, machine in machines.items():
        (machine / "weights").mkdir(parents=True)
        for e in plan["entries"]:
            if e["shard"] == f"{i}/3":
                shutil.copy(weights / e["weights"], machine / "weights")
    processes = [subprocess.Popen([sys.executable, "-m", "converter", "zoo", "build", index, "--weights-dir",
                                   machines[i] / "weights", "--plan", tmp_path / "plan.json", "--shard", f"{i}/3",
                                   "-o", machines[i] / "dist", "-j", "1", "--quiet"], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "CI": "true"}) for i in (1, 2, 3)]
    codes = [p.wait(timeout=1800) for p in processes]
    shard_of = {e["id"]: e["shard"] for e in plan["entries"] if e["shard"]}
    for i, code in zip((1, 2, 3), codes):
        assert code == (1 if shard_of[BROKEN] == f"{i}/3" else 0), processes[i - 1].stderr.read()
    merged = run_cli("zoo", "merge", *shards, "-o", tmp_path / "z3")
    assert merged.returncode == 1 and "4 of 5 models passed" in merged.stdout, merged.stderr
    single = run_cli("zoo", "merge", root / "dist", "-o", tmp_path / "z1")
    assert single.returncode == 1, single.stderr
    assert _identical(tmp_path / "z1", tmp_path / "z3") == []

    zoo = json.loads((tmp_path / "z3" / "index.json").read_text())
    records = {r["id"]: r for r in zoo["models"]}
    assert set(records) == {*MODELS, PARTIAL, BROKEN} and zoo["passed"] == 4
    broken = records[BROKEN]
    assert not broken["pass"] and "parity" in broken["reason"].lower()
    # Named by its file, not a machine's path.
    assert broken["reason"].startswith("error: inf.pth: ") and "output is not finite" in broken["reason"]
    assert any("fail" in a["verdicts"].values() for a in broken["artifacts"])  # its verdicts, from its .failed bundle
    assert not (tmp_path / "z3" / BROKEN).exists()  # a zoo publishes only verified releases
    partial = records[PARTIAL]
    assert partial["pass"] and (tmp_path / "z3" / PARTIAL / "check.html").is_file()
    # An output of inf is never "PSNR inf" (identical).
    assert {w["entry"]: w["reason"] for w in partial["not_published"]} == WITHHELD
    assert {a["precision"] for a in partial["artifacts"]} == {"float32", "uint8"}
    for entry_id in MODELS:
        record = records[entry_id]
        assert record["pass"] and record["scale"] == 2 and record["license"] == "CC0-1.0" and not record["not_published"]
        assert {a["precision"] for a in record["artifacts"]} == {"float32", "float16", "uint8"}
        for artifact in record["artifacts"]:
            assert artifact["bytes"] > 0 and set(artifact["verdicts"].values()) <= {"pass", "unsupported"}
        assert (tmp_path / "z3" / record["crop"]).is_file() and record["has_check_page"]
        assert _identical(tmp_path / "z3" / entry_id, root / "dist" / entry_id) == []
    page = (tmp_path / "z3" / "index.html").read_text()
    assert page.count('class="pass"') == 4 and page.count('class="fail"') == 1
    assert "tfjs/float16/model.json: not published: measured -inf dB in tfjs-wasm against gate &gt;= 60 dB" in page
    assert "2x-Fixture-SPAN/check.html" in page and "gallery/2x-Fixture-SPAN.png" in page

    # A shard missing, or given twice, is refused: the zoo would be incomplete or doubled.
    assert_clean_error(run_cli("zoo", "merge", *shards[:2], "-o", tmp_path / "zx"), 2, "no shard built")
    shutil.copytree(shards[0], tmp_path / "d1-again")
    assert_clean_error(run_cli("zoo", "merge", shards[0], tmp_path / "d1-again", *shards[1:], "-o", tmp_path / "zy"),
                       2, "shard 1/3 is given twice")
    # A record that claims another shard's model (same plan) is refused too.
    shutil.copytree(shards[1], tmp_path / "d2-doubled")
    doubled = tmp_path / "d2-doubled" / "zoo-shard-2-of-3.json"
    record, first = json.loads(doubled.read_text()), json.loads((shards[0] / "zoo-shard-1-of-3.json").read_text())
    record["models"].update(first["models"])
    doubled.write_text(json.dumps(record))
    assert_clean_error(run_cli("zoo", "merge", shards[0], tmp_path / "d2-doubled", shards[2], "-o", tmp_path / "zw"),
                       2, "built by two shards")
    # Shards of another plan (here, one shard of the whole index) are refused, not mixed in.
    assert_clean_error(run_cli("zoo", "merge", root / "dist", shards[0], "-o", tmp_path / "zv"), 2,
                       "another plan")
    assert not any((tmp_path / name).exists() for name in ("zx", "zy", "zw", "zv"))

    # A shard's output damaged after it was verified (in transit between machines) is not published as passed.
    shutil.copytree(root / "dist", tmp_path / "damaged")
    victim = tmp_path / "damaged" / "2x-Fixture-SPAN" / "onnx" / "float32" / "model.onnx"
    victim.write_bytes(victim.read_bytes()[:-1] + b"\0")
    damaged = run_cli("zoo", "merge", tmp_path / "damaged", "-o", tmp_path / "zd")
    assert damaged.returncode == 1 and "3 of 5 models passed" in damaged.stdout, damaged.stderr
    span = {r["id"]: r for r in json.loads((tmp_path / "zd" / "index.json").read_text())["models"]}["2x-Fixture-SPAN"]
    assert not span["pass"] and "onnx/float32/model.onnx" in span["reason"]
    assert not (tmp_path / "zd" / "2x-Fixture-SPAN").exists()


def _good_index(zoo_inputs, folder):
    """The index of the three plain models (not the two of broken weights, nor the video network)."""
    index, _ = zoo_inputs
    folder.mkdir()
    for entry_id in MODELS:
        shutil.copy(index / f"{entry_id}.json", folder)
    return folder


def _timed_build(index, weights, dist, cache):
    started = time.monotonic()
    result = run_cli("zoo", "build", index, "--weights-dir", weights, "-o", dist, "--cache", cache, "-j", "2")
    return result, time.monotonic() - started


def test_the_cache_is_at_least_five_times_faster_and_identical(zoo_inputs, tmp_path):
    _, weights = zoo_inputs
    index = _good_index(zoo_inputs, tmp_path / "index")
    cold, cold_seconds = _timed_build(index, weights, tmp_path / "cold", tmp_path / "cache")
    warm, warm_seconds = _timed_build(index, weights, tmp_path / "warm", tmp_path / "cache")
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr + warm.stderr
    assert cold.stdout.count("from the cache") == 0 and warm.stdout.count("from the cache") == 3
    assert cold_seconds >= 5 * warm_seconds, (cold_seconds, warm_seconds)
    assert _identical(tmp_path / "warm", tmp_path / "cold") == []


def test_the_cache_rebuilds_what_failed_and_what_was_tampered_with(one_shard, zoo_inputs):
    index, _ = zoo_inputs
    root, _, _ = one_shard
    weights = root / "weights"  # the same machine, later: a rebuilt release records the same relative path
    warm = run_cli("zoo", "build", index, "--weights-dir", weights, "-o", root / "warm", "--cache", root / "cache")
    assert warm.returncode == 1, warm.stderr  # the broken model is never cached: it is built, and fails, again
    assert warm.stdout.count("from the cache") == 4 and f"{BROKEN}:" in warm.stderr
    for entry_id in [*MODELS, PARTIAL]:
        assert _identical(root / "warm" / entry_id, root / "dist" / entry_id) == []
    # A damaged cache entry is a miss: rebuilt and stored again, never copied.
    entry = next(p for p in (root / "cache").iterdir() if (p / "release" / "manifest.json").is_file())
    (entry / "release" / "parity.md").write_text("tampered")
    again = run_cli("zoo", "build", index, "--weights-dir", weights, "-o", root / "again", "--cache",
                    root / "cache")
    assert again.stdout.count("from the cache") == 3
    assert "tampered" not in (root / "cache" / entry.name / "release" / "parity.md").read_text()
    for entry_id in MODELS:
        assert _identical(root / "again" / entry_id, root / "dist" / entry_id) == []
