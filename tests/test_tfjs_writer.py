"""srconvert writes TF.js weights itself, without TensorFlow (issue 30): the
shards and manifest must be byte for byte what tensorflowjs's own writer
makes of the same weights, at every precision, and a layers bundle must be
written from an HDF5 source without importing TensorFlow at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from converter.emitters import tfjs, tfjs_lean
from converter.quantizers import tfjs_weights

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "build"


def _weights() -> list[dict]:
    """Every case the affine range and the byte layout treat apart."""
    rng = np.random.default_rng(3)
    return [
        {"name": "conv/kernel", "data": rng.normal(0, 0.2, (3, 3, 5, 7)).astype(np.float32)},  # holds 0: nudged
        {"name": "conv/bias", "data": rng.uniform(0.1, 0.9, 7).astype(np.float32)},  # all positive: not nudged
        {"name": "neg/bias", "data": rng.uniform(-3, -1, 5).astype(np.float32)},  # all negative
        {"name": "const/w", "data": np.full((4, 4), 0.25, np.float32)},  # min == max
        {"name": "zero/w", "data": np.zeros(6, np.float32)},
        {"name": "wide/w", "data": (rng.standard_normal(1000) * 1e4).astype(np.float32)},
        {"name": "f64/w", "data": rng.normal(0, 1, 9)},  # stored as float32, then quantized
        {"name": "f16/w", "data": rng.normal(0, 1, 9).astype(np.float16)},
        {"name": "int/shape", "data": np.array([1, -1, 64], np.int32)},  # never quantized
        {"name": "i64/axes", "data": np.array([0, 3], np.int64)},  # stored as int32
        {"name": "flag", "data": np.array([True, False])},
        {"name": "names", "data": np.array(["a", "ünï", ""], dtype=object)},
    ]


@pytest.mark.parametrize("precision", ["float32", "float16", "uint8", "uint16"])
def test_shards_and_manifest_are_tensorflowjs_own(tmp_path, precision):
    from converter.core import tf_runtime

    tf_runtime.tensorflowjs()  # as srconvert imports it (quietly: tfdf's advert needs IPython otherwise)
    from tensorflowjs import write_weights

    shard = 500  # small enough that shards split inside weights at every precision
    model = tfjs.TfjsModel("graph", {"format": "graph-model"}, _weights())
    ours = tfjs.write(model, precision, tmp_path / "ours", tfjs_weights.quantize, shard_bytes=shard)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    manifest = write_weights.write_weights([[dict(e) for e in _weights()]], str(theirs), shard_size_bytes=shard,
                                           write_manifest=False,
                                           quantization_dtype_map=None if precision == "float32" else {precision: "*"})
    paths = manifest[0]["paths"]
    assert len(paths) >= 3
    assert [p.name for p in ours[1:]] == paths
    for path in paths:
        assert (tmp_path / "ours" / path).read_bytes() == (theirs / path).read_bytes(), path
    document = json.loads(ours[0].read_text())
    assert document["weightsManifest"] == json.loads(json.dumps(tfjs_lean.weights_manifest(manifest)))
    if precision in ("uint8", "uint16"):  # the range holding 0 keeps 0 exact, as TF.js reads it back
        spec = next(w for w in document["weightsManifest"][0]["weights"] if w["name"] == "conv/kernel")
        q = spec["quantization"]
        assert abs(round(-q["min"] / q["scale"]) * q["scale"] + q["min"]) < 1e-6


@pytest.mark.skipif(not (FIXTURES / "rrdn_keras2.h5").exists(), reason="run `make fixtures`")
def test_a_layers_bundle_is_written_without_tensorflow(tmp_path):
    """From the HDF5's topology and weights alone: TensorFlow is never imported."""
    script = f"""
import sys
from pathlib import Path
from converter.emitters import tfjs
from converter.forms.keras_form import KerasForm
from converter.quantizers import tfjs_weights
from converter.sources import SourceOptions, describe
form = KerasForm(describe(Path({str(FIXTURES / 'rrdn_keras2.h5')!r})), SourceOptions())
for precision in ("float32", "float16", "uint8"):
    tfjs.write(tfjs.layers_model(form.canonical), precision, Path({str(tmp_path)!r}) / precision, tfjs_weights.quantize)
print(sorted(m for m in ("tensorflow", "tf_keras", "keras", "tensorflowjs") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    document = json.loads((tmp_path / "uint8" / "model.json").read_text())
    assert document["format"] == "layers-model"
    assert document["modelTopology"]["keras_version"]
    assert document["convertedBy"].startswith("srconvert (TensorFlow.js Converter v")
    weights = document["weightsManifest"][0]["weights"]
    assert weights and all(w["quantization"]["dtype"] == "uint8" for w in weights)
