"""Every file of the fuzzing corpus (tests/fuzz/corpus/<target>/), replayed
as its fuzz target feeds it (tests/fuzz/harness.py: in place of its seed's
file, through what `srconvert inspect` calls, in this process): each ends in
a result or one of srconvert's own errors (exit 1-3) in one or two lines
naming the file, and nothing is written beside it. The corpus holds every
input that once crashed srconvert (exit 70), each named after what it found;
a crash found later joins it with its fix (tests/fuzz/corpus/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz.harness import TARGETS, one_input

from converter.commands.inspection import inspect_source
from converter.core.errors import SrconvertError

CORPUS = Path(__file__).resolve().parent / "fuzz" / "corpus"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")


def test_the_corpus_holds_the_findings_and_names_only_real_targets():
    assert {p.parent.name for p in FILES} <= set(TARGETS)
    assert {"keras2-h5", "onnx", "onnx-external-data", "pth-zip", "pth-pickle", "tfjs-model-json"} <= \
        {p.parent.name for p in FILES} and len(FILES) >= 12


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(CORPUS).as_posix() for p in FILES])
def test_a_corpus_file_ends_in_a_result_or_a_clean_error(path):
    error = one_input(TARGETS[path.parent.name], path.read_bytes(), inspect_source, SrconvertError)
    if error is not None:
        lines = error.lines()
        assert 1 <= len(lines) <= 2 and "srconvert-fuzz-" in lines[0], lines  # it names the file
        assert "bug in srconvert" not in " ".join(lines)


def test_only_a_parsing_librarys_own_exceptions_are_the_files_fault(tmp_path):
    import io

    import h5py

    from converter.core.errors import BadInput
    from converter.sources.boundary import reading

    path = tmp_path / "model.h5"
    with pytest.raises(BadInput, match="h5py cannot read it: OSError") as caught:
        with reading(path, ("h5py",)):
            h5py.File(io.BytesIO(b"not HDF5 at all" * 64), "r")
    assert caught.value.path == path
    with pytest.raises(RuntimeError, match="srconvert's own"):  # a bug of srconvert's stays one (exit 70)
        with reading(path, ("h5py",)):
            raise RuntimeError("srconvert's own")
    with pytest.raises(BadInput) as named:  # a refusal raised deep in a reader gets the file's name
        with reading(path, ()):
            raise BadInput("a damaged attribute")
    assert named.value.path == path
