import json
import subprocess
from pathlib import Path

import pytest

import custom_layers
from converter.bundle import custom_layers_js


@pytest.mark.parametrize(
    "class_name, config, expected",
    [
        ("PixelShuffle", {"scale": 3}, {"scale": 3}),
        ("PixelShuffle", {"block_size": 4}, {"scale": 4}),
        ("PixelShuffle", {"upscale_factor": 2}, {"scale": 2}),
        ("PixelShuffle2x", {}, {"scale": 2}),
        ("PixelShuffle4x", {"name": "ps"}, {"name": "ps", "scale": 4}),
        ("PixelShuffle8x", {}, {"scale": 8}),
        ("Custom>PixelShuffle", {"scale": 4}, {"scale": 4}),
        ("Custom>PixelShuffle3x", {}, {"scale": 3}),
        ("MultiplyBeta", {"beta": 0.5}, {"beta": 0.5}),
        ("MultiplyBeta", {}, {"beta": 0.2}),
        ("Custom>MultiplyBeta", {"name": "b"}, {"name": "b", "beta": 0.2}),
        ("PixelUnshuffle", {"downscale_factor": 2}, {"scale": 2}),
        ("PixelUnshuffle4x", {}, {"scale": 4}),
        ("ResizeBilinear", {"size": 3}, {"size": [3, 3]}),
    ],
)
def test_every_spelling_normalises_to_the_canonical_config(class_name, config, expected):
    spec = custom_layers.find(class_name)
    assert spec is not None
    assert spec.normalise(class_name, config) == expected


@pytest.mark.parametrize("name", ["PixelShuffleX", "Shuffle", "MultiplyBeta2", "Conv2D", "PixelShuffle4"])
def test_other_names_are_not_custom_layers(name):
    assert custom_layers.find(name) is None


def test_emitted_modules_export_register_custom_layers_in_both_module_systems(tmp_path):
    esm, cjs = custom_layers_js.write(tmp_path, list(custom_layers.LAYERS))
    script = f"""
    const tf = require('@tensorflow/tfjs');
    const cjs = require({json.dumps(str(cjs))});
    import({json.dumps(esm.as_uri())}).then((esm) => {{
      const names = cjs.registerCustomLayers(tf).map((c) => c.className);
      const again = esm.registerCustomLayers(tf).map((c) => c.className);
      const x = tf.tensor4d([...Array(16).keys()], [1, 1, 1, 16]);
      const [ps, mb, pu, rb] = esm.registerCustomLayers(tf);
      const y = new ps({{ scale: 2 }}).apply(x);
      const z = new mb({{ beta: 0.5 }}).apply(tf.ones([1, 2]));
      const u = new pu({{ scale: 2 }}).apply(y);
      const r = new rb({{ size: [2, 3] }}).apply(x);
      console.log(JSON.stringify({{ names, again, shape: y.shape, z: Array.from(z.dataSync()),
                                    roundTrip: Array.from(u.dataSync()), resized: r.shape }}));
    }});
    """
    from converter.backends.node.host import node_modules

    out = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, check=True, env={"NODE_PATH": str(node_modules())}
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["names"] == [layer.name for layer in custom_layers.LAYERS] == result["again"]
    assert result["shape"] == [1, 2, 2, 4]
    assert result["z"] == [0.5, 0.5]
    assert result["roundTrip"] == list(range(16))  # unshuffle undoes shuffle
    assert result["resized"] == [1, 2, 3, 16]


def test_python_layers_compute_depth_to_space_and_beta():
    import numpy as np
    import tensorflow as tf
    import tf_keras

    x = np.arange(2 * 3 * 3 * 12, dtype=np.float32).reshape(2, 3, 3, 12)
    shuffle = custom_layers.PIXEL_SHUFFLE.keras_class(tf_keras)(scale=2)
    np.testing.assert_array_equal(shuffle(x).numpy(), tf.nn.depth_to_space(x, 2).numpy())
    beta = custom_layers.MULTIPLY_BETA.keras_class(tf_keras)(beta=0.25)
    np.testing.assert_array_equal(beta(x).numpy(), x * 0.25)
    unshuffle = custom_layers.PIXEL_UNSHUFFLE.keras_class(tf_keras)(scale=2)
    y = np.arange(2 * 4 * 6 * 3, dtype=np.float32).reshape(2, 4, 6, 3)
    np.testing.assert_array_equal(unshuffle(y).numpy(), tf.nn.space_to_depth(y, 2).numpy())
    resize = custom_layers.RESIZE_BILINEAR.keras_class(tf_keras)(size=[2, 2])
    keras_up = tf_keras.layers.UpSampling2D(2, interpolation="bilinear")
    np.testing.assert_allclose(resize(y).numpy(), keras_up(y).numpy(), atol=1e-6)


def test_the_manifest_records_user_code_and_verify_asks_for_it_again():
    from converter.core.hashing import sha256_file
    from converter.core.user_layers import code_record, missing_code

    class Mine:  # any class: only its module and name are recorded
        pass

    assert code_record({}, False) == {}
    record = code_record({"Mine": Mine}, True)
    assert record == {"custom_layers": [{"spec": f"{__name__}:Mine", "file": str(Path(__file__).resolve()),
                                         "sha256": sha256_file(Path(__file__))}],
                      "allow_lambda": True}
    assert missing_code(record, {}, False) == [f"--custom-layer {__name__}:Mine", "--allow-lambda"]
    assert missing_code(record, {"Mine": Mine}, True) == []
