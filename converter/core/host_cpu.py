"""Which integer kernels onnxruntime runs int8 models with on this CPU.

onnxruntime (MLAS) picks its u8 x s8 matrix kernels by instruction set, and
they do not all compute the same thing. With VNNI (AVX-512 VNNI or AVX-VNNI)
a u8 x s8 dot product accumulates in int32 and is exact. Without it, x86-64
multiplies with VPMADDUBSW, which adds pairs of products in int16 and
saturates, so the same int8 model can give another answer. ARM's and
WebAssembly's kernels widen first and are exact. srconvert's int8 artifacts
are u8 x u8 (quantizers/onnx_int8_static.py), exact on every path; this module
names the path so that doctor and the parity report can say where a run was
verified.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Int8Path:
    name: str
    """e.g. 'x86-64 AVX-512 VNNI'."""
    u8s8_saturates: bool | None
    """True where u8 x s8 products are summed in int16 (x86-64 without VNNI);
    None for a CPU family this module does not know."""

    def describe(self) -> str:
        if self.u8s8_saturates is None:
            return f"{self.name}: int8 kernels not known to srconvert (its int8 is u8 x u8, which widens everywhere)"
        if self.u8s8_saturates:
            return f"{self.name}: u8 x s8 kernels saturate here (srconvert's int8 is u8 x u8, exact)"
        return f"{self.name}: u8 x s8 and u8 x u8 kernels both exact"


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The first processor's flags (x86 `flags`, ARM `Features`); empty where unreadable."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def int8_path(machine: str | None = None, flags: frozenset[str] | None = None) -> Int8Path:
    machine = (machine or platform.machine()).lower()
    flags = cpu_flags() if flags is None else flags
    if machine in ("x86_64", "amd64"):
        if "avx512_vnni" in flags:
            return Int8Path("x86-64 AVX-512 VNNI", False)
        if "avx_vnni" in flags:
            return Int8Path("x86-64 AVX-VNNI", False)
        widest = "AVX-512" if "avx512bw" in flags else "AVX2" if "avx2" in flags else "SSE"
        return Int8Path(f"x86-64 {widest} without VNNI", True)
    if machine in ("aarch64", "arm64"):
        return Int8Path("ARM64 " + ("dot product (udot/sdot)" if "asimddp" in flags else "NEON"), False)
    return Int8Path(machine or "unknown CPU", None)
