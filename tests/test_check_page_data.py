"""The reference data the self-check page reads (parity.check_page), decoded
as check.js decodes it: no browser needed."""

from __future__ import annotations

import json

import numpy as np

from converter.bundle.manifest import Artifact
from converter.core.precisions import DEFAULT_GATES
from converter.parity import check_page
from converter.parity.runs import Reference
from converter.parity.inputs import ParityInput


def reference(rng) -> Reference:
    inputs = [ParityInput("random-13x9", rng.uniform(0, 1, (1, 9, 13, 3)).astype(np.float32), False),
              ParityInput("random-20x14", rng.uniform(0, 1, (1, 14, 20, 3)).astype(np.float32), False),
              ParityInput("photo", rng.uniform(0, 1, (1, 11, 10, 3)).astype(np.float32), True),
              ParityInput("photo-8x8", rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32), True, at_patch=True)]
    outputs = [rng.normal(0.5, 3.0, (1, 2 * i.array.shape[1], 2 * i.array.shape[2], 3)).astype(np.float32)
               for i in inputs]
    value_range = max(float(o.max()) for o in outputs) - min(float(o.min()) for o in outputs)
    return Reference(inputs, outputs, value_range, 1.0, "tensorflow", -1.0, 1.0)


def decoded(stage, document: dict) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """As check.js's `arrays`: float32 inputs, and outputs rebuilt in float32 from their steps."""
    data = (stage / check_page.REFERENCE_BIN).read_bytes()
    inputs = [np.frombuffer(data, "<f4", int(np.prod(i["shape"])), i["offset"]).reshape(i["shape"])
              for i in document["inputs"]]
    outputs = [(np.float32(o["low"]) + np.frombuffer(data, "<u2", int(np.prod(o["shape"])), o["offset"])
                .astype(np.float32) * np.float32(o["step"])).reshape(o["shape"]) for o in document["outputs"]]
    return inputs, outputs


def test_the_stored_reference_is_within_its_recorded_error_and_each_artifact_gets_the_browser_lanes_inputs(tmp_path):
    ref = reference(np.random.default_rng(0))
    free = Artifact("onnx", "float32", "onnx/float32/model.onnx", input_sizes={"kind": "free", "multiple_of": 1},
                    unsupported_backends=None)
    fixed = Artifact("tfjs-graph", "uint8", "tfjs-graph/uint8/model.json",
                     input_sizes={"kind": "fixed", "fixed": "8x8"})
    exemptions = {free.entry: {"chromium-ort-jsep": "JSEP mis-handles this", "onnxruntime": "not this one"}}
    entry = check_page.write(tmp_path, ref, [free, fixed], dict(DEFAULT_GATES), exemptions)
    document = json.loads((tmp_path / check_page.REFERENCE_JSON).read_text())
    inputs, outputs = decoded(tmp_path, document)
    # The browser lane's small set: the first random tile and the first photo; the patch's photo for the fixed one.
    assert [i["name"] for i in document["inputs"]] == ["random-13x9", "photo", "photo-8x8"]
    assert [a["inputs"] for a in document["artifacts"]] == [[0, 1], [2]]
    originals = [ref.inputs[0], ref.inputs[2], ref.inputs[3]]
    for stored, original in zip(inputs, originals):
        assert np.array_equal(stored, original.array)  # inputs are exact
    worst = max(float(np.abs(o - ref.outputs[i]).max()) for o, i in zip(outputs, (0, 2, 3)))
    assert 0 < worst <= document["storage_error"] < 1e-4 * ref.value_range / 5  # a fifth of the float32 gate
    # Exemptions by the page's backend name, only those of browser runtimes; gates as the run's.
    assert document["artifacts"][0]["exempt"] == {"jsep": "JSEP mis-handles this"}
    assert document["artifacts"][1]["gate"] == DEFAULT_GATES["uint8"].as_dict()
    assert document["runtimes"]["onnx"]["webgpu"] == "chromium-ort-webgpu"
    # Every file it wrote is in the manifest's entry, with the pinned versions.
    written = {f["path"] for f in entry["files"]}
    assert written == {"check.html", "check/check.js", "check/runtimes.js", "check/reference.json",
                       "check/reference.bin"}
    assert entry["libraries"]["@tensorflow/tfjs"] == "4.22.0" and entry["libraries"]["onnxruntime-web"] == "1.30.0"
    scripts = document["libraries"]["scripts"]
    assert all(s["integrity"].startswith("sha384-") and s["cdn"].startswith("https://cdn.jsdelivr.net/npm/")
               for s in scripts)


def test_the_page_is_byte_reproducible_and_shares_the_browser_lanes_runtimes(tmp_path):
    artifact = Artifact("onnx", "float16", "onnx/float16/model.onnx", input_sizes={"kind": "free", "multiple_of": 1})
    first, second = tmp_path / "a", tmp_path / "b"
    for stage in (first, second):
        stage.mkdir()
        check_page.write(stage, reference(np.random.default_rng(1)), [artifact], dict(DEFAULT_GATES), {})
    for name in (*check_page.STATIC, check_page.REFERENCE_JSON, check_page.REFERENCE_BIN):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "check/runtimes.js").read_bytes() == check_page.RUNTIMES_JS.read_bytes()
