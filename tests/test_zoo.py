"""`srconvert zoo plan`: a committed slice of real OpenModelDB entries
(fixtures/openmodeldb), classified; weights found by hash, not name;
shards balanced by estimated work; malformed entries reported, not raised."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from conftest import ROOT, assert_clean_error, run_cli

SLICE = ROOT / "fixtures" / "openmodeldb" / "models"

# By hand, from each entry's `architecture` and channels (data/architectures.json
# says which are video networks): what `zoo plan` must say of it.
VIDEO = {"2x-GameUp-TSCUNet", "2x-SBS11-RRDB", "2x-cainREALTIME", "2x-sudo-rife4-testV1"}
NOT_CONVERTED = {"2x-Adore", "2x-FaithfulSPSR", "4x-003-ATD-SRx4-finetune", "4x-ArtFaces-realplksr-dysample"}
# Grayscale (1 -> 1) and RGBA (4 -> 4) ESRGANs are planned like the RGB ones.
OTHER_CHANNELS = {"1x-MangaJPEGHQ", "1x-MangaJPEGHQPlus", "2x-Gen5-Alpha"}


def _plan(index, weights, *extra):
    result = run_cli("zoo", "plan", index, "--weights-dir", weights, "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _entry(tmp_path, entry_id, architecture, weights: bytes, scale=4, **fields):
    data = {"name": entry_id, "author": "someone", "license": "CC0-1.0", "tags": ["photo"], "description": "d",
            "date": "2024-01-01", "architecture": architecture, "size": None, "scale": scale,
            "inputChannels": 3, "outputChannels": 3, "images": [],
            "resources": [{"platform": "pytorch", "type": "pth", "size": len(weights),
                           "sha256": hashlib.sha256(weights).hexdigest(), "urls": [f"https://x/{entry_id}.pth"]}]}
    data.update(fields)
    (tmp_path / "index" / f"{entry_id}.json").write_text(json.dumps(data))


def test_the_real_slice_is_classified(tmp_path):
    plan = _plan(SLICE, tmp_path)
    entries = {e["id"]: e for e in plan["entries"]}
    assert len(entries) == 40 == len(list(SLICE.glob("*.json")))
    for entry_id, entry in entries.items():
        reason = entry["reason"] or ""
        if entry_id in VIDEO:
            assert not entry["supported"] and "video network" in reason, entry
        elif entry_id in NOT_CONVERTED:
            assert not entry["supported"] and f"'{entry['architecture']}' is not among" in reason, entry
        else:
            # A family srconvert converts: built once its weights are there; here they are not.
            assert entry["supported"] and entry["weights"] is None and entry["shard"] is None, entry
            assert "not in the weights folder" in reason and entry["sha256"] is None
        assert "malformed" not in reason
    assert all(entries[e]["supported"] for e in OTHER_CHANNELS)
    assert {e["architecture"] for e in entries.values() if e["supported"]} == {
        "esrgan", "compact", "span", "dat", "swinir", "omnisr", "realplksr", "hat", "rgt", "srformer", "mosr", "rcan",
        "drct"}
    # An ONNX-only entry and a .safetensors one are supported like the rest.
    assert entries["2x-AnimeJaNai-Standard-v1-Compact"]["supported"] and entries["1x-Book-Compact"]["supported"]


def test_weights_are_found_by_hash_and_size_not_name(tmp_path):
    (tmp_path / "index").mkdir()
    weights = tmp_path / "weights"
    (weights / "deep").mkdir(parents=True)
    real = b"\x01" * 5000
    _entry(tmp_path, "4x-Found", "esrgan", real)
    _entry(tmp_path, "4x-Absent", "compact", b"\x02" * 6000)
    (weights / "deep" / "renamed.bin").write_bytes(real)
    (weights / "4x-Absent.pth").write_bytes(b"\x03" * 6000)  # its name and size, not its content
    plan = {e["id"]: e for e in _plan(tmp_path / "index", weights)["entries"]}
    assert plan["4x-Found"]["weights"] == "deep/renamed.bin" and plan["4x-Found"]["shard"] == "1/1"
    assert plan["4x-Found"]["sha256"] == hashlib.sha256(real).hexdigest()
    assert plan["4x-Absent"]["weights"] is None and plan["4x-Absent"]["shard"] is None
    assert "4x-Absent.pth" in plan["4x-Absent"]["reason"]


def test_a_shard_built_from_the_plan_job_plan_checks_its_own_weights(tmp_path):
    (tmp_path / "index").mkdir()
    weights, only, wrong = tmp_path / "weights", tmp_path / "only-mine", tmp_path / "wrong"
    for folder in (weights, only, wrong):
        folder.mkdir()
    blob = b"\x01" * 5000
    _entry(tmp_path, "4x-Found", "esrgan", blob)
    (weights / "w.pth").write_bytes(blob)
    (wrong / "w.pth").write_bytes(b"\x02" * 5000)  # the name and size the plan says, not the content
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(_plan(tmp_path / "index", weights)))

    def build(weights_dir, plan_file=plan, shard="1/1"):
        return run_cli("zoo", "build", tmp_path / "index", "--weights-dir", weights_dir, "--plan", plan_file,
                       "--shard", shard, "-o", tmp_path / "dist")

    assert_clean_error(build(only), 2, "4x-Found's weights are not in the weights folder", "w.pth")
    assert_clean_error(build(wrong), 2, "is not the one its entry names")
    assert_clean_error(build(weights, shard="1/2"), 2, "but the plan has 1 shard")
    (tmp_path / "garbage.json").write_text('{"shards": 1}')
    assert_clean_error(build(weights, plan_file=tmp_path / "garbage.json"), 2, "is not a plan")
    _entry(tmp_path, "4x-Added", "compact", b"\x03" * 10)  # the index changed since the plan was made
    assert_clean_error(build(weights), 2, "the plan and the index hold different entries (4x-Added)")
    assert not (tmp_path / "dist").exists()


def test_shards_balance_estimated_work_not_counts(tmp_path):
    (tmp_path / "index").mkdir()
    weights = tmp_path / "weights"
    weights.mkdir()
    # One DAT, then Compacts of the same size: attention costs more than convolution.
    for i, (arch, size) in enumerate([("dat", 4_000_000)] + [("compact", 4_000_000)] * 6):
        blob = bytes([i]) * size
        _entry(tmp_path, f"4x-M{i}", arch, blob)
        (weights / f"m{i}.pth").write_bytes(blob)
    plan = _plan(tmp_path / "index", weights, "--shards", "3")
    shard_of = {e["id"]: e["shard"] for e in plan["entries"]}
    work = {e["id"]: e["estimated_cpu_seconds"] for e in plan["entries"]}
    assert work["4x-M0"] > 1.5 * work["4x-M1"]  # a DAT against a Compact of its size
    assert plan["matrix"] == {"include": [{"shard": "1/3"}, {"shard": "2/3"}, {"shard": "3/3"}]}
    counts = {s["shard"]: s["entries"] for s in plan["shard_work"]}
    assert counts["1/3"] < counts["2/3"]  # the DAT's shard holds fewer models
    totals = [s["estimated_cpu_seconds"] for s in plan["shard_work"]]
    assert max(totals) - min(totals) <= work["4x-M1"] + 0.1  # greedy's bound: within one model's work
    assert sum(totals) == pytest.approx(sum(work.values()), abs=0.5)
    assert set(shard_of.values()) == {"1/3", "2/3", "3/3"}
    assert _plan(tmp_path / "index", weights, "--shards", "3") == plan  # the same plan on every machine


def test_malformed_entries_are_reported_each_and_the_rest_planned(tmp_path):
    index = tmp_path / "index"
    shutil.copytree(SLICE, index)
    (index / "not-json.json").write_text("{\"name\": ")
    (index / "deep.json").write_text("[" * 100_000)
    (index / "a list.json").write_text("{}")
    dat = json.loads((SLICE / "2x-DAT-2.json").read_text())
    (index / "no-scale.json").write_text(json.dumps({**dat, "scale": "2"}))
    bad_hash = json.loads((SLICE / "2x-DAT-2.json").read_text())
    bad_hash["resources"][0]["sha256"] = "../../etc/passwd"
    (index / "bad-hash.json").write_text(json.dumps(bad_hash))
    result = run_cli("zoo", "plan", index, "--weights-dir", tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr + result.stdout, result.stderr
    plan = {e["id"]: e for e in _plan(index, tmp_path)["entries"]}
    assert len(plan) == 45
    for entry_id, words in [("not-json", "not valid JSON"), ("deep", "nests"), ("a list", "not a usable id"),
                            ("no-scale", "'scale' has the wrong type"), ("bad-hash", "64 hexadecimal")]:
        assert not plan[entry_id]["supported"] and plan[entry_id]["reason"].startswith("malformed entry:"), entry_id
        assert words in plan[entry_id]["reason"], plan[entry_id]
    assert plan["2x-DAT-2"]["supported"]


def test_plan_refuses_what_is_not_an_index(tmp_path):
    assert_clean_error(run_cli("zoo", "plan", tmp_path / "nothing", "--weights-dir", tmp_path), 2,
                       "not a folder of OpenModelDB entries")
    assert_clean_error(run_cli("zoo", "plan", tmp_path, "--weights-dir", tmp_path), 2, "no *.json entries")
    assert_clean_error(run_cli("zoo", "plan", SLICE, "--weights-dir", tmp_path / "none"), 2,
                       "weights folder does not exist")
