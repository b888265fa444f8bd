"""Publishing what passed (pipeline.withhold): a zoo's release leaves out an
artifact of a precision nobody asked for by name when it fails its gate, says
what it measured against which gate, and fails whole when float32 fails."""

from __future__ import annotations

from converter.bundle.manifest import Artifact
from converter.core.precisions import DEFAULT_GATES
from converter.parity import report
from converter.pipeline.withhold import withhold

OPTIONAL = frozenset({"float16", "uint8"})
SHARED = "tfjs/custom_layers.js"


def _artifact(stage, fmt, precision, entry, results, shared=False):
    paths = [entry, *([SHARED] if shared else [])]
    for path in paths:
        (stage / path).parent.mkdir(parents=True, exist_ok=True)
        (stage / path).write_bytes(b"x" * 10)
    gate = DEFAULT_GATES[precision]
    return Artifact(fmt, precision, entry, [{"path": p, "bytes": 10, "sha256": "-"} for p in paths],
                    parity={"pass": all(r["pass"] for r in results), "gate": gate.as_dict(), "results": results})


def _run(runtime, passed, psnr=None, max_abs=None):
    return {"runtime": runtime, "pass": passed, "psnr_db": psnr, "max_abs": max_abs, "error": None}


def _bundle(stage, float32_passes=True):
    return [
        _artifact(stage, "tfjs-layers", "float32", "tfjs/float32/model.json",
                  [_run("tfjs-wasm", float32_passes, 140.0, 1e-6 if float32_passes else 0.5)], shared=True),
        _artifact(stage, "tfjs-layers", "uint8", "tfjs/uint8/model.json",
                  [_run("tfjs-wasm", False, 38.46, 0.2)], shared=True),
        _artifact(stage, "onnx", "uint8", "onnx/uint8/model.onnx",
                  [_run("onnxruntime", False, 36.31, 0.3), _run("onnxruntime-web", True, 41.0, 0.1)]),
    ]


def test_an_optional_precision_that_fails_is_left_out_with_what_it_measured(tmp_path):
    artifacts = _bundle(tmp_path)
    published, summary = withhold(tmp_path, artifacts, {"verified": True, "pass": False}, OPTIONAL)
    assert [a.entry for a in published] == ["tfjs/float32/model.json"] and summary["pass"] is True
    reasons = {r["entry"]: r["reason"] for r in summary["not_published"]}
    assert reasons == {
        "tfjs/uint8/model.json": "not published: measured 38.5 dB in tfjs-wasm against gate >= 40 dB",
        # Only the runtime that failed is named.
        "onnx/uint8/model.onnx": "not published: measured 36.3 dB in onnxruntime against gate >= 40 dB",
    }
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [SHARED, "tfjs/float32/model.json"]  # the shared file stays; emptied folders go
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tfjs"]
    headline = report.headline("x.pth", summary, artifacts)
    assert headline.startswith("Verdict: PASS for what is published.") and "onnx/uint8/model.onnx" in headline
    text = report.markdown(artifacts, None, not_published=summary["not_published"])
    assert "FAILED:" not in text
    assert "onnx/uint8/model.onnx: not published: measured 36.3 dB in onnxruntime against gate >= 40 dB" in text


def test_nothing_is_withheld_where_float32_fails_or_nothing_is_optional(tmp_path):
    for float32_passes, optional in ((False, OPTIONAL), (True, frozenset())):
        stage = tmp_path / f"{float32_passes}-{len(optional)}"
        artifacts = _bundle(stage, float32_passes)
        before = sorted(p for p in stage.rglob("*") if p.is_file())
        summary = {"verified": True, "pass": False}
        published, after = withhold(stage, artifacts, summary, optional)
        assert published == artifacts and after == summary  # the run then fails whole, as a named precision does
        assert sorted(p for p in stage.rglob("*") if p.is_file()) == before


def test_a_float32_gate_failure_is_said_in_its_own_metric(tmp_path):
    artifact = _artifact(tmp_path, "onnx", "float32", "onnx/float32/model.onnx", [_run("onnxruntime", False, 80.0, 0.25)])
    _, summary = withhold(tmp_path, [artifact, *_bundle(tmp_path / "b")[:1]], {"pass": False},
                          frozenset({"float32"}))
    assert summary["not_published"][0]["reason"] == \
        "not published: measured max abs 2.50e-01 in onnxruntime against gate <= 0.0001 x range"
