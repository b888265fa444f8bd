"""The run's memory budget: derived, overridden, recorded, and enforced on
the whole process tree while the run goes on."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT, assert_clean_error, run_cli

from converter.core import memory

MIB = 1 << 20


def test_sizes_parse_in_binary_units_and_nonsense_is_refused():
    assert memory.parse_size("4G") == 4 << 30
    assert memory.parse_size("512M") == 512 << 20
    assert memory.parse_size("1.5GiB") == 3 << 29
    assert memory.parse_size("1000") == 1000
    for bad in ("", "0", "4X", "-1G", "G"):
        with pytest.raises(ValueError):
            memory.parse_size(bad)


def _default_budget(file_bytes: int) -> int:
    return memory.budget_for(ROOT / "x.h5", content_bytes=0, file_bytes=file_bytes, max_memory=None).limit


def test_the_estimate_is_a_base_plus_sixteen_times_the_declared_bytes():
    assert memory.estimate(0) == 1536 * MIB
    assert memory.estimate(100 * MIB) == 1536 * MIB + 1600 * MIB


def test_a_tiny_file_cannot_claim_the_machine_and_a_large_one_gets_what_its_size_justifies():
    share = memory.default_limit()  # what this process may use: the one input from the machine
    assert _default_budget(10_000) == min(share, 8 << 30)  # the floor, not the machine
    # 400 MiB may hold 4x that once decoded: 1.5 GiB + 16 x 1600 MiB = 26.5 GiB, capped by the share.
    assert _default_budget(400 * MIB) == min(share, 1536 * MIB + 16 * 1600 * MIB)


def test_a_source_that_cannot_fit_is_refused_with_what_it_would_take():
    from converter.core.errors import BadInput

    # The 10 KB HDF5 of the report that started this: 13 GiB declared.
    with pytest.raises(BadInput, match=r"needs about 209.5 GiB .*13.0 GiB of declared.* budget is"):
        memory.budget_for(ROOT / "bomb.h5", content_bytes=13 << 30, file_bytes=10_000, max_memory=None)
    given = memory.budget_for(ROOT / "m.h5", content_bytes=10_000, file_bytes=10_000, max_memory=5 << 30)
    assert given.manifest_entry() == {"budget": "--max-memory", "budget_bytes": 5 << 30,
                                      "estimate_bytes": memory.estimate(10_000)}


def test_the_manifest_records_the_budget_it_ran_under(rrdn_onnx_budgeted):
    out = rrdn_onnx_budgeted
    document = json.loads((out / "manifest.json").read_text())
    estimate = document["memory"]["estimate_bytes"]
    assert document["memory"] == {"budget": "--max-memory", "budget_bytes": 6 << 30, "estimate_bytes": estimate}
    assert memory.BASE_BYTES < estimate < memory.BASE_BYTES + 20 * MIB
    assert json.loads((out / "parity.json").read_text())["host"]["memory_budget_bytes"] == 6 << 30


def test_inspect_takes_the_budget_too(fixtures_dir):
    result = run_cli("inspect", fixtures_dir / "rdn_keras3.keras", "--max-memory", "100M")
    assert_clean_error(result, 2, "needs about", "budget is 100.0 MiB")


# A process that keeps allocating (and touching) memory under `guard`, in
# itself or in a child, as a runtime fed a hostile graph would.
GREEDY = textwrap.dedent("""
    import subprocess, sys
    from pathlib import Path
    from converter.core import memory
    HOG = "import time\\nblocks = []\\nwhile True:\\n    blocks.append(bytearray(64 << 20))\\n    time.sleep(0.01)\\n"
    budget = memory.Budget(limit=int(sys.argv[1]), estimate=0, origin="--max-memory")
    with memory.guard(budget, Path("hostile.onnx")):
        if sys.argv[2] == "child":
            subprocess.run([sys.executable, "-c", HOG])
        else:
            exec(HOG)
""")


@pytest.mark.parametrize("where", ["self", "child"])
def test_a_run_past_its_budget_is_stopped_with_exit_2(tmp_path, where):
    limit = 400 * MIB
    process = subprocess.run([sys.executable, "-c", GREEDY, str(limit), where], capture_output=True, text=True,
                             cwd=ROOT, timeout=120)
    assert_clean_error(process, 2, "hostile.onnx", "passed its memory budget", "budget 400.0 MiB")
    assert "raise --max-memory" in process.stderr


# wait4 from a fresh, small process: a child forked from pytest itself would
# count pytest's memory in its peak until it execs.
LAUNCHER = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)
"""


def test_the_guard_stops_the_allocation_close_to_the_budget(tmp_path):
    script = tmp_path / "greedy.py"
    script.write_text(GREEDY)
    limit = 400 * MIB
    launched = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, str(script), str(limit), "self"],
                              capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=120)
    code, peak = map(int, launched.stdout.split())
    assert code == 2
    # Sampling every 50 ms while 64 MiB arrive every 10 ms: a few hundred MiB of overshoot at most.
    assert limit < peak < limit + 512 * MIB
