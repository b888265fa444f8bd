"""Run onnxruntime on an emulated x86-64 CPU without VNNI (qemu-user, Haswell).

onnxruntime picks its int8 kernels by the CPU's instruction set, so an int8
model verified on a VNNI machine says nothing about an AVX2-only one. qemu's
user-mode emulator runs this same Python and onnxruntime with a Haswell CPUID
(AVX2, no AVX-512, no VNNI), so MLAS takes its AVX2 kernels, the ones with the
int16 saturation, for real.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Haswell less the features qemu's TCG cannot emulate (it warns about each).
HASWELL = "Haswell,-pcid,-x2apic,-tsc-deadline,-hle,-invpcid,-rtm"
INSTALL = "apt-get install qemu-user (or: make test, which installs it)"

_RUN = """
import sys, numpy as np, onnxruntime as ort
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
inputs = np.load(sys.argv[2])
np.savez(sys.argv[3], *[session.run(None, {name: inputs[k]})[0] for k in inputs.files])
"""


def qemu() -> str | None:
    """The emulator, on an x86-64 host (elsewhere the x86 paths are moot)."""
    return shutil.which("qemu-x86_64") if platform.machine() in ("x86_64", "AMD64") else None


def run_onnx(model: Path, inputs: list[np.ndarray], cpu: str = HASWELL) -> list[np.ndarray]:
    emulator = qemu()
    if emulator is None:
        raise RuntimeError(f"qemu-x86_64 is missing: {INSTALL}")
    with tempfile.TemporaryDirectory(prefix="srconvert-qemu-") as tmp:
        feed, out = Path(tmp, "in.npz"), Path(tmp, "out.npz")
        np.savez(feed, *inputs)
        subprocess.run(
            [emulator, "-cpu", cpu, sys.executable, "-c", _RUN, str(model), str(feed), str(out)],
            check=True, capture_output=True, timeout=600,
        )
        with np.load(out) as outputs:
            return [outputs[k] for k in outputs.files]
