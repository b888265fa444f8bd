"""One coverage-guided fuzz target per source format (atheris, which runs
libFuzzer's engine on Python), seeded from the fixtures.

    python tests/fuzz/harness.py FORMAT [libFuzzer flags] CORPUS_DIR [SEED_DIR]

Each input is written in place of one file of a copy of the format's seed
(a folder format keeps its other files), then goes through what `srconvert
inspect` calls: detection, the declared-size checks, the safe readers,
`describe` and the facts. The contract: a result, or one of srconvert's own
errors with exit 1-3; nothing else escapes (libFuzzer saves the input as a
crash), nothing is written beside the input, and libFuzzer's -timeout and
-rss_limit_mb catch a hang or a memory blow-up. `tests/fuzz/run.py` (`make
fuzz`) runs every target for a set time."""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "fixtures" / "build"
SEEDS = BUILD / "fuzz-seeds"
"""Where `make fuzz` writes the PyTorch checkpoints (they are pickles, and none is committed)."""
NCNN_SEED = Path(__file__).resolve().parent / "seeds" / "ncnn"


@dataclass(frozen=True)
class Target:
    """A format's seed: `seed` is a file, or a folder whose `member` the input replaces."""

    seed: Path
    member: str | None = None
    files: tuple[str, ...] = ()
    """The folder's files copied beside the input (empty: all of it)."""
    given: str | None = None
    """The file srconvert is given inside the folder (None: the folder itself)."""

    @property
    def file_name(self) -> str:
        return self.member or self.seed.name

    def seed_bytes(self) -> bytes:
        return (self.seed / self.member if self.member else self.seed).read_bytes()


TARGETS = {
    "pth-zip": Target(SEEDS / "compact.pth"),
    "pth-pickle": Target(SEEDS / "compact-legacy.pth"),
    "safetensors": Target(SEEDS / "compact.safetensors"),
    "onnx": Target(ROOT / "fixtures" / "onnx" / "compact_torchscript.onnx"),
    # Only the model and its external data, not every ONNX fixture; the model is what srconvert is given.
    "onnx-external-data": Target(ROOT / "fixtures" / "onnx", "compact_dynamo.onnx",
                                 ("compact_dynamo.onnx", "compact_dynamo.onnx.data"), "compact_dynamo.onnx"),
    # A 2x Compact written by srconvert --format ncnn (6.6 KB): the .param, then the .bin, replaced.
    "ncnn-param": Target(NCNN_SEED, "2x-compact.param", given="2x-compact.param"),
    "ncnn-bin": Target(NCNN_SEED, "2x-compact.bin", given="2x-compact.param"),
    "keras2-h5": Target(BUILD / "rrdn_keras2.h5"),
    "keras3-h5": Target(BUILD / "rrdn_keras3.h5"),
    "keras-archive": Target(BUILD / "rrdn_keras3.keras"),
    "savedmodel": Target(BUILD / "rrdn_savedmodel", "saved_model.pb"),
    "tfjs-model-json": Target(BUILD / "rrdn_tfjs", "model.json"),
    "tfjs-shard": Target(BUILD / "rrdn_tfjs", "group1-shard1of1.bin"),
    "isr-weights-only": Target(BUILD / "rrdn-C2-D2-G8-G08-T2-x4_weights.hdf5"),
}


def one_input(target: Target, data: bytes, inspect_source, SrconvertError):
    """The contract, for one input (see the module's docstring); returns
    srconvert's error, or None where inspect gave a result."""
    with tempfile.TemporaryDirectory(prefix="srconvert-fuzz-") as tmp:
        if target.member is None:
            source = Path(tmp) / target.seed.name
            source.write_bytes(data)
            given = source
        else:
            source = Path(tmp) / target.seed.name
            if target.files:
                source.mkdir()
                for name in target.files:
                    shutil.copy(target.seed / name, source / name)
            else:
                shutil.copytree(target.seed, source)
            (source / target.member).write_bytes(data)
            given = source / target.given if target.given else source
        before = sorted(p.relative_to(tmp) for p in Path(tmp).rglob("*"))
        found = None
        try:
            inspect_source(given)
        except SrconvertError as error:
            if error.exit_code not in (1, 2, 3):
                raise
            found = error
        after = sorted(p.relative_to(tmp) for p in Path(tmp).rglob("*"))
        if after != before:
            raise AssertionError(f"inspect wrote beside its input: {sorted(set(after) - set(before))}")
        return found


def main(argv: list[str]) -> None:
    import os

    import atheris

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from converter.core import tf_runtime

    # srconvert's quiet mode closes file descriptor 2 to TensorFlow's C++ logs, and libFuzzer reports there.
    tf_runtime.quiet(debug=True)
    target = TARGETS[argv[1]]
    with atheris.instrument_imports(include=["converter"]):
        from converter.commands.inspection import inspect_source
        from converter.core.errors import SrconvertError
    atheris.Setup([argv[0], *argv[2:]], lambda data: one_input(target, data, inspect_source, SrconvertError) and None)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
