import copy

import pytest

from converter.passes import fixes
from converter.passes.fixes import functional_to_model, keras3_topology

KERAS3_MODEL = {
    "module": "keras.src.models.functional",
    "class_name": "Functional",
    "registered_name": "Functional",
    "build_config": {"input_shape": None},
    "config": {
        "name": "m",
        "layers": [
            {
                "module": "keras.layers",
                "class_name": "InputLayer",
                "config": {"batch_shape": [None, None, None, 3], "dtype": "float32", "name": "in", "optional": False},
                "registered_name": None,
                "name": "in",
                "inbound_nodes": [],
            },
            {
                "module": "keras.layers",
                "class_name": "Conv2D",
                "config": {
                    "name": "c",
                    "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None},
                    "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                                           "config": {"seed": None, "input_axes": None}, "registered_name": None},
                },
                "registered_name": None,
                "name": "c",
                "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                             "config": {"shape": [None, None, None, 3], "keras_history": ["in", 0, 0]}}],
                                   "kwargs": {}}],
            },
            {
                "module": "custom_layers.pixel_shuffle",
                "class_name": "PixelShuffle",
                "registered_name": "Custom>PixelShuffle",
                "config": {"name": "ps", "block_size": 2},
                "name": "ps",
                "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["c", 0, 0]}}],
                                   "kwargs": {}}],
            },
            {
                "module": "keras.layers",
                "class_name": "Add",
                "config": {"name": "add"},
                "name": "add",
                "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"keras_history": ["ps", 0, 0]}},
                                             {"class_name": "__keras_tensor__", "config": {"keras_history": ["ps", 0, 0]}}]],
                                   "kwargs": {}}],
            },
        ],
        "input_layers": ["in", 0, 0],
        "output_layers": ["add", 0, 0],
    },
}


def test_keras3_topology_becomes_the_keras2_form():
    fixed, applied = fixes.apply_fixes(KERAS3_MODEL)
    assert [f.name for f in applied] == ["keras3_topology", "serialization_keys", "custom_layer_names", "functional_to_model"]
    assert fixed == {
        "class_name": "Model",
        "config": {
            "name": "m",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_input_shape": [None, None, None, 3], "dtype": "float32",
                                                        "name": "in"}, "name": "in", "inbound_nodes": []},
                {"class_name": "Conv2D", "config": {"name": "c", "dtype": "float32",
                                                    "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}}},
                 "name": "c", "inbound_nodes": [[["in", 0, 0, {}]]]},
                {"class_name": "PixelShuffle", "config": {"name": "ps", "scale": 2}, "name": "ps",
                 "inbound_nodes": [[["c", 0, 0, {}]]]},
                {"class_name": "Add", "config": {"name": "add"}, "name": "add",
                 "inbound_nodes": [[["ps", 0, 0, {}], ["ps", 0, 0, {}]]]},
            ],
            "input_layers": [["in", 0, 0]],
            "output_layers": [["add", 0, 0]],
        },
    }


def test_fixes_leave_their_input_alone_and_are_idempotent():
    original = copy.deepcopy(KERAS3_MODEL)
    fixed, _ = fixes.apply_fixes(KERAS3_MODEL)
    assert KERAS3_MODEL == original
    again, applied = fixes.apply_fixes(fixed)
    assert again == fixed and applied == []


def test_a_disabled_fix_is_not_applied():
    fixed, applied = fixes.apply_fixes(KERAS3_MODEL, disabled=frozenset({"functional_to_model"}))
    assert fixed["class_name"] == "Functional"
    assert "functional_to_model" not in [f.name for f in applied]


def test_keras3_pass_counts_nothing_on_a_keras2_topology():
    keras2 = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8, 8, 3], "dtype": "float32"},
         "name": "in", "inbound_nodes": []}], "input_layers": [["in", 0, 0]], "output_layers": [["in", 0, 0]]}}
    assert keras3_topology.run(copy.deepcopy(keras2)) == 0
    assert functional_to_model.run(keras2) == 1 and keras2["class_name"] == "Model"


def test_nested_models_are_fixed_too():
    outer = {"class_name": "Functional", "config": {"layers": [copy.deepcopy(KERAS3_MODEL)],
                                                     "input_layers": [], "output_layers": []}}
    fixed, _ = fixes.apply_fixes(outer)
    inner = fixed["config"]["layers"][0]
    assert inner["class_name"] == "Model"
    assert inner["config"]["layers"][0]["config"]["batch_input_shape"] == [None, None, None, 3]


def test_apply_runs_a_form_s_passes_once_in_order_and_records_what_changed():
    from converter.passes import FIX, ONNX, OPTIMIZATION, Pass, apply, recorded

    calls = []

    def step(name, changes):
        def run(subject):
            calls.append(name)
            subject.append(name)
            return changes
        return Pass(name, f"{name} summary", ONNX, FIX if name != "c" else OPTIMIZATION, run)

    subject = []
    applied = apply([step("a", 2), step("b", 0), step("c", 1)], ONNX, subject, disabled=frozenset({"x"}))
    assert calls == ["a", "b", "c"] and subject == ["a", "b", "c"]
    assert [(a.name, a.changes) for a in applied] == [("a", 2), ("c", 1)]  # b changed nothing: not recorded
    assert recorded(applied, FIX) == [{"name": "a", "summary": "a summary", "changes": 2}]
    assert [a.name for a in apply([step("a", 1)], ONNX, [], disabled=frozenset({"a"}))] == []


def test_a_pass_for_another_form_is_refused_before_anything_runs():
    from converter.passes import KERAS, ONNX, apply
    from converter.passes.fixes import FIXES

    with pytest.raises(TypeError, match="keras3_topology"):
        apply(FIXES, ONNX, {})
    with pytest.raises(TypeError):
        apply(FIXES, KERAS, {})  # the fixes act on the topology alone (keras-topology), not topology and weights


def test_a_keras3_nested_model_called_twice_builds_in_tf_keras_and_computes_the_same():
    """Keras 3 numbers a nested model's calls from 0 and Keras 2 from 1:
    unrenumbered, tf_keras's rebuild waits forever for call 0."""
    import json

    import keras
    import numpy as np

    from converter.core import tf_runtime
    from converter.graphs.topology import malformed

    inner_in = keras.Input((None, None, 4))
    inner = keras.Model(inner_in, keras.layers.Conv2D(4, 1, name="mix")(inner_in), name="inner")
    image = keras.Input((None, None, 3), name="image")
    features = inner(keras.layers.Conv2D(4, 3, padding="same", name="head")(image))
    source = keras.Model(image, keras.layers.Add(name="sum")([features, inner(features)]), name="net")
    topology = json.loads(source.to_json())
    assert malformed(topology) is None
    fixed, _ = fixes.apply_fixes(topology)
    assert malformed(fixed) is None
    assert fixed["config"]["layers"][-1]["inbound_nodes"] == [[["inner", 1, 0, {}], ["inner", 2, 0, {}]]]
    rebuilt = tf_runtime.tf_keras().models.model_from_json(json.dumps(fixed))
    for layer in ("head", "inner"):
        rebuilt.get_layer(layer).set_weights(source.get_layer(layer).get_weights())
    x = np.random.default_rng(0).random((1, 8, 8, 3), dtype=np.float32)
    np.testing.assert_allclose(rebuilt(x).numpy(), np.asarray(source(x)), rtol=1e-5, atol=1e-5)
