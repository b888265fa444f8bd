"""Time and compute budgets (converter.core.deadline, converter.graphs.compute) and the
default memory budget (converter.core.memory): small files that would compute
forever stop with exit 2, one line, nothing left behind; a genuine model's
work is counted in its graph, at every use of a shared weight; and the
memory budget does not shrink with what other processes hold."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from conftest import ROOT, assert_clean_error, run_cli, run_cli_sampled

sys.path.insert(0, str(ROOT / "fixtures"))

import make_budget_fixtures  # noqa: E402

from converter.core import (
    deadline,
    memory,  # noqa: E402
)
from converter.core.errors import BadInput  # noqa: E402
from converter.graphs import compute

GIB = 1 << 30
# A refusal before any work peaks near 100 MB (Python, onnx, numpy); a stopped
# run with its runtimes started near 600 MB. A bomb that ran would not stop at all.
PEAK_CEILING = GIB
DEADLINE_TEST_SECONDS = 60


def _leftovers(folder: Path, before: set[str]) -> list[str]:
    return sorted(set(p.name for p in folder.iterdir()) - before)


# --- the compute estimate -----------------------------------------------------------------------------------

def _shared_conv_chain(uses: int, channels: int = 8):
    """`uses` 3x3 convs that share one kernel, then DepthToSpace x2."""
    from onnx import TensorProto, helper, numpy_helper

    kernel = numpy_helper.from_array(np.zeros((channels, channels, 3, 3), np.float32), "kernel")
    nodes, name = [], "input"
    for index in range(uses):
        nodes.append(helper.make_node("Conv", [name, "kernel"], [f"x{index}"], pads=[1, 1, 1, 1]))
        name = f"x{index}"
    nodes.append(helper.make_node("DepthToSpace", [name], ["output"], blocksize=2, mode="CRD"))
    graph = helper.make_graph(nodes, "chain",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, channels, "h", "w"])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], [kernel])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_shared_kernel_counts_at_every_use():
    one = compute.of_onnx(_shared_conv_chain(1), Path("one.onnx"))
    many = compute.of_onnx(_shared_conv_chain(400), Path("many.onnx"))
    per_conv = 9 * 8 * 8  # MACs per pixel of one 3x3 8->8 convolution
    assert one.counted["Conv"] == per_conv
    assert many.counted["Conv"] == 400 * per_conv  # parameters would say one conv's worth
    assert many.exact


def test_a_keras_layer_called_twice_counts_twice_at_the_area_it_runs():
    # conv (4->4) on the input, a x2 UpSampling2D, then the same conv again (listed
    # once, before the upsampling its second call takes), then a 4->3 conv.
    topology = {"config": {
        "input_layers": [["in", 0, 0]], "output_layers": [["out", 0, 0]],
        "layers": [
            {"class_name": "InputLayer", "name": "in", "config": {}, "inbound_nodes": []},
            {"class_name": "Conv2D", "name": "conv", "config": {"strides": [1, 1]},
             "inbound_nodes": [[["in", 0, 0, {}]], [["up", 0, 0, {}]]]},
            {"class_name": "UpSampling2D", "name": "up", "config": {"size": [2, 2]},
             "inbound_nodes": [[["conv", 0, 0, {}]]]},
            {"class_name": "Conv2D", "name": "out", "config": {"strides": [1, 1]},
             "inbound_nodes": [[["conv", 1, 0, {}]]]},
        ]}}
    shapes = {"conv": [(3, 3, 4, 4), (4,)], "out": [(3, 3, 4, 3), (3,)]}
    work = compute.of_keras(topology, shapes)
    # The shared conv at the input's area and at four times it; the last conv at four times it.
    assert work.macs_per_pixel == 144 + 4 * 144 + 4 * 108
    assert work.nodes == 4


def test_the_fixture_models_are_counted_from_their_graphs(fixtures_dir):
    import onnx

    rrdb = compute.of_onnx(onnx.load(str(ROOT / "fixtures" / "onnx" / "rrdb_torchscript.onnx")), Path("rrdb"))
    # Its convolutions are all counted exactly (14 K parameters, mostly 3x3 kernels at the input's size).
    assert rrdb.exact and 30e3 < rrdb.counted["Conv"] < 45e3


def test_a_model_over_the_compute_ceiling_is_refused_before_anything_runs(fixtures_dir, tmp_path,
                                                                          rrdn_onnx_budgeted):
    out = tmp_path / "out"
    result = run_cli("convert", fixtures_dir / "rrdn_keras2.h5", "-o", out, "--max-compute", "1K")
    assert_clean_error(result, 2, "multiply-accumulates per input pixel, over the 1.0 K ceiling", "--max-compute")
    assert not out.exists() and _leftovers(tmp_path, set()) == []
    # Under --max-compute 1M it converts, and the manifest records the work.
    recorded = json.loads((rrdn_onnx_budgeted / "manifest.json").read_text())["model"]["compute"]
    assert recorded == {"macs_per_input_pixel": 19368, "exact": True}  # the fixture RRDN's convolutions


def test_inspect_shows_the_work_per_pixel(fixtures_dir):
    result = run_cli("inspect", fixtures_dir / "rrdn_keras2.h5", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["compute"] == {"macs_per_input_pixel": 19368, "exact": True}
    shown = run_cli("inspect", fixtures_dir / "rrdn_keras2.h5")
    assert "19.4 K MAC per input pixel, 1.2 K per output pixel" in shown.stdout


# --- loop bombs ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("command", ["convert", "inspect"])
def test_a_constant_loop_bomb_is_refused_up_front(tmp_path, command):
    source = make_budget_fixtures.loop_bomb(tmp_path / "bomb.onnx")
    assert source.stat().st_size < 4096
    before = {p.name for p in tmp_path.iterdir()}
    args = ["-o", tmp_path / "out"] if command == "convert" else []
    result, peak, seconds = run_cli_sampled(command, source, *args, timeout=DEADLINE_TEST_SECONDS)
    assert_clean_error(result, 2, "is a Loop of 1,000,000,000,000 iterations (limit 100,000)")
    assert seconds < DEADLINE_TEST_SECONDS and peak < PEAK_CEILING
    assert _leftovers(tmp_path, before) == []


@pytest.mark.slow
def test_a_loop_counted_at_run_time_meets_the_deadline(tmp_path):
    source = make_budget_fixtures.runtime_loop_bomb(tmp_path / "bomb.onnx")
    assert source.stat().st_size < 4096
    before = {p.name for p in tmp_path.iterdir()}
    result, peak, seconds = run_cli_sampled("convert", source, "-o", tmp_path / "out", "--format", "onnx",
                                            "--max-time", "15", timeout=DEADLINE_TEST_SECONDS)
    assert_clean_error(result, 2, "passed its time budget (--max-time 15 s) and was stopped", "--max-time")
    assert 15 <= seconds < DEADLINE_TEST_SECONDS and peak < PEAK_CEILING
    assert _leftovers(tmp_path, before) == []
    time.sleep(0.5)
    assert not [c for c in result.children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_a_derived_deadline_grows_with_the_work_and_stops_a_call_by_name():
    clock = deadline.Clock()
    assert clock.deadline_for(0) == deadline.FLOOR_SECONDS
    # A call estimated at a minute gets ten on top of the floor; no call gets more than the ceiling.
    assert clock.deadline_for(60) == deadline.FLOOR_SECONDS + 600
    assert clock.deadline_for(1e9) == deadline.CEILING_SECONDS
    # The estimate: the model's MACs at the runtime's speed, plus its per-node cost.
    work = compute.Compute(4e6, nodes=600)
    webgl = deadline.SPEEDS["software-webgl"]
    assert clock.inference(64 * 48, "software-webgl", work) == pytest.approx(
        600 * webgl.seconds_per_node + 4e6 * 64 * 48 / webgl.macs_per_second)
    assert clock.inference(64 * 48, "cpu") == 0  # no model known yet: the floor alone
    with clock.call("tfjs-wasm inference on a 64x48 input"):
        assert clock.overdue() is None
        clock._open[next(iter(clock._open))] = deadline.Call("tfjs-wasm inference on a 64x48 input",
                                                              time.monotonic() - 200, 130, "derived")
        error = clock.overdue(Path("model.onnx"))
    assert isinstance(error, BadInput)
    assert "tfjs-wasm inference on a 64x48 input passed its time budget (130 s, derived from its estimated " \
           "work)" in error.message
    assert clock.overdue() is None  # the call is closed


def test_the_manifest_records_a_user_set_time_limit(rrdn_onnx_budgeted):
    assert json.loads((rrdn_onnx_budgeted / "manifest.json").read_text())["time"] == {
        "budget": "--max-time", "max_time_seconds": 900.0}


# --- the default memory budget ------------------------------------------------------------------------------

HOG = """
import sys, time
import numpy as np
block = np.ones(int(sys.argv[1]), dtype=np.uint8)  # touched, so resident
print("holding", flush=True)
time.sleep(600)
"""
DEFAULT_LIMIT = "from converter.core import memory; print(memory.default_limit())"


def _default_limit() -> int:
    return int(subprocess.run([sys.executable, "-c", DEFAULT_LIMIT], capture_output=True, text=True, cwd=ROOT,
                              check=True).stdout)


@pytest.mark.slow
def test_the_default_budget_does_not_shrink_while_others_hold_memory(fixtures_dir, tmp_path):
    alone = _default_limit()
    # Another process takes most of what is available, leaving 3 GiB.
    hold = max(0, psutil.virtual_memory().available - 3 * GIB)
    hog = subprocess.Popen([sys.executable, "-c", HOG, str(hold)], stdout=subprocess.PIPE, text=True)
    try:
        assert hog.stdout.readline().strip() == "holding"
        assert psutil.virtual_memory().available < 4 * GIB
        assert _default_limit() == alone
        out = tmp_path / "out"
        result = run_cli("convert", fixtures_dir / "rrdn_keras2.h5", "-o", out, "--format", "onnx",
                         "--quantize", "float32")
        assert result.returncode == 0, result.stderr
        # What the old rule (3/4 of the available memory) would have cut to 2.25 GiB:
        budget = json.loads((out / "parity.json").read_text())["host"]["memory_budget_bytes"]
        assert budget == min(alone, memory.DEFAULT_FLOOR) > 3 * GIB
    finally:
        hog.kill()
        hog.wait()


def test_build_workers_share_the_default_budget():
    share = subprocess.run([sys.executable, "-c", "from converter.core import memory; memory.share_between(4); "
                            "print(memory.default_limit(), memory.process_limit())"],
                           capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    assert int(share[0]) == int(share[1]) // 4
    total = psutil.virtual_memory().total
    assert int(share[1]) <= total - memory.MARGIN_MIN


# --- a lane the estimate says cannot finish ---------------------------------------------------------------

def _isr_size_rrdn(path: Path) -> Path:
    """An RRDN of ISR's gans size (C4 D3 G32 G0 32 T10 x4, 4.2 M parameters), seeded weights."""
    script = f"""
import sys
sys.path.insert(0, {str(ROOT / 'bench')!r})
sys.path.insert(0, {str(ROOT)!r})
import run
run.OUT = __import__("pathlib").Path({str(path.parent)!r})
print(run.make_models(["rrdn"])["rrdn"][0])
"""
    made = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return Path(made.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_browser_release_the_estimate_says_cannot_finish_stops_before_the_lane(tmp_path):
    source = _isr_size_rrdn(tmp_path / "rrdn.h5")
    dist = tmp_path / "dist"
    result, peak, seconds = run_cli_sampled("build", ROOT / "recipes" / "isr-gans-x4.toml", "--weights", source,
                                            "--browser", "-o", dist, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "parity in Chromium, on a software renderer (no GPU) would take about" in result.stderr
    assert "run --browser on a machine with a GPU" in result.stderr and "--max-time" in result.stderr
    assert "protocolTimeout" not in result.stderr and "Traceback" not in result.stderr
    assert seconds < 120  # before any browser work, instead of half an hour
    assert not dist.exists() or not any(dist.iterdir())
