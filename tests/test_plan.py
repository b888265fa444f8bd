"""The plan: what a run will write and who checks it, decided from the
options and a described source before any work (unit tests: describe reads
no weights and loads no framework), and rebuilt from a manifest for verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from converter import sources
from converter.core.errors import BadInput
from converter.core.input_size import InputSize
from converter.pipeline import plan as planning
from converter.pipeline.convert import ConvertOptions
from converter.targets.base import KERAS_FORM, ONNX_FORM

ONNX_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "onnx"


def planned(source: Path, **options):
    opts = ConvertOptions(source=source, out=source.parent / "unused", **options)
    info = sources.describe(source, opts.source_options())
    opts = planning.resolve(opts, info)
    return planning.make(opts, info)


def test_a_keras_source_plans_tfjs_layers_and_onnx_with_the_default_precisions(fixtures_dir):
    plan = planned(fixtures_dir / "rrdn_keras2.h5")
    # Neither needs TensorFlow (issue 30), so the registry's order holds.
    assert [step.target.name for step in plan.steps] == ["tfjs-layers", "onnx"]
    assert not any(step.target.needs_tensorflow for step in plan.steps)
    assert all(step.precisions == ("float32", "float16", "uint8") and step.form == KERAS_FORM for step in plan.steps)
    assert plan.runtimes == ("tfjs", "onnxruntime", "onnxruntime-web")
    assert plan.runtime_counts() == {"onnxruntime": 3, "onnxruntime-web": 3, "tfjs": 3}  # artifacts each checks
    assert plan.onnx_layout == "nhwc" and plan.patch is None


def test_an_onnx_graph_that_reads_its_size_gets_a_patch_only_for_tf_js():
    plan = planned(ONNX_FIXTURES / "architectures" / "swinir.onnx")
    assert {step.target.name: step.form for step in plan.steps} == {"onnx": ONNX_FORM, "tfjs-graph": ONNX_FORM}
    assert plan.onnx_layout == "nchw" and plan.patch == InputSize(64, 64)
    assert planned(ONNX_FIXTURES / "architectures" / "swinir.onnx", formats=("onnx",)).patch is None


def test_refusals_come_before_any_work(fixtures_dir):
    with pytest.raises(BadInput, match="int8 is not available for --format tfjs"):
        planned(fixtures_dir / "rrdn_keras2.h5", formats=("tfjs",), precisions=("float32", "int8"))
    with pytest.raises(BadInput, match="--input-size applies to ONNX and PyTorch sources"):
        planned(fixtures_dir / "rrdn_keras2.h5", input_size=InputSize(32, 32))
    with pytest.raises(BadInput, match="the run builds no int8"):
        planned(fixtures_dir / "rrdn_keras2.h5", gated=frozenset({"int8"}))


def test_a_plan_survives_json(fixtures_dir):
    from converter.core.precisions import Gate

    for plan in (planned(fixtures_dir / "rrdn_keras2.h5"), planned(ONNX_FIXTURES / "architectures" / "swinir.onnx"),
                 planned(fixtures_dir / "rrdn_keras2.h5", disabled_fixes=frozenset({"serialization_keys"}),
                         optimize=False, opset=15, gates={"float32": Gate("max_abs_rel", 1e-4),
                                                          "float16": Gate("psnr", 50.0), "uint8": Gate("psnr", 30.0)},
                         optional_precisions=frozenset({"uint8"}), channels=3, max_compute=1e6)):
        assert planning.Plan.from_dict(json.loads(json.dumps(plan.as_dict()))) == plan
    changed = planning.Plan.from_dict(json.loads(json.dumps(plan.as_dict())))
    assert (changed.disabled_fixes, changed.optimize, changed.opset, changed.gates["float16"].threshold,
            changed.optional, changed.max_compute) == (("serialization_keys",), False, 15, 50.0, ("uint8",), 1e6)


def test_the_plan_of_a_manifest_is_the_plan_that_made_it():
    def artifact(target, precision, layout="nhwc"):
        return {"format": target, "precision": precision, "layout": layout}

    document = {
        "artifacts": [artifact("tfjs-graph", "float32"), artifact("tfjs-graph", "uint8"),
                      artifact("onnx", "float32", "nchw"), artifact("onnx", "uint8", "nchw")],
        "model": {"input_size": "64x64"}, "onnx_exporter": "none (the source graph)", "tfjs_graph_from": "onnx",
    }
    def made(plan):  # what a manifest from before plans were stored tells of one
        return plan.steps, plan.onnx_layout, plan.patch

    plan = planning.Plan.from_manifest(document)
    assert made(plan) == made(planned(ONNX_FIXTURES / "architectures" / "swinir.onnx", precisions=("float32", "uint8")))
    with_browser = planning.Plan.from_manifest(document, browser=True)
    assert next(s.runtimes for s in with_browser.steps if s.target.name == "onnx")[-1] == "chromium-ort-jsep"
    tfjs_only = {"artifacts": document["artifacts"][:2], "model": document["model"], "tfjs_graph_from": "onnx",
                 "source": {"format": "onnx"}}  # no ONNX artifact: the layout is the source's own
    assert made(planning.Plan.from_manifest(tfjs_only)) == made(planned(
        ONNX_FIXTURES / "architectures" / "swinir.onnx", formats=("tfjs",), precisions=("float32", "uint8")))
    with pytest.raises(BadInput, match="tflite"):
        planning.Plan.from_manifest({"artifacts": [artifact("tflite", "float32")]})


class Steps:
    """The plan.PostSteps protocol, as a release implements it (the real one's check is tested below)."""

    source_label = "weights.pth"
    names = ("npm entry (model.js)", "npm package")

    def __init__(self):
        self.checked = []

    def check(self, plan):
        self.checked.append(plan.patch)

    def record(self):
        return {"steps": list(self.names)}


def test_a_releases_post_steps_join_the_plan_at_plan_time_and_check_it():
    post = Steps()
    source = ONNX_FIXTURES / "architectures" / "swinir.onnx"
    opts = ConvertOptions(source=source, out=source.parent / "unused")
    info = sources.describe(source, opts.source_options())
    plan = planning.make(planning.resolve(opts, info), info, post)
    assert plan.post is post and post.checked == [InputSize(64, 64)]  # checked against the size the plan fixed
    assert plan.as_dict()["release"] == {"steps": list(post.names)}
    assert planning.Plan.from_dict(plan.as_dict()) == plan  # all but the steps' code, which is not data


def test_a_release_refuses_at_plan_time_a_patch_upscalerjs_cannot_tile():
    from converter.release import recipes
    from converter.release.build import ReleaseSpec

    spec = ReleaseSpec(recipes.load(Path(__file__).resolve().parents[1] / "recipes" / "isr-gans-x4.toml"), "w.hdf5")
    spec.check(planning.Plan((), "nhwc", None))  # nothing fixed: UpscalerJS tiles as the recipe says
    with pytest.raises(BadInput, match="only square"):
        spec.check(planning.Plan((), "nhwc", InputSize(48, 64)))


def test_a_release_refuses_a_transformersjs_folder_it_would_fold_with_the_wrong_output_range():
    import dataclasses

    from converter.release import recipes
    from converter.release.build import ReleaseSpec
    from converter.targets.transformersjs import TRANSFORMERSJS

    recipe = recipes.load(Path(__file__).resolve().parents[1] / "recipes" / "isr-gans-x4.toml")
    plan = planning.Plan((planning.Step(TRANSFORMERSJS, ("float32",), ("transformersjs",), "keras"),), "nchw", None)
    ReleaseSpec(recipe, "w.hdf5").check(plan)  # 0:1 in, 0:1 out: one range folds both ends
    with pytest.raises(BadInput, match="maps the pipeline's 0..1 to one range"):
        ReleaseSpec(dataclasses.replace(recipe, output_range=(0.0, 255.0)), "w.hdf5").check(plan)
