"""Every file of the fuzzing corpus (tests/fuzz/corpus/<target>/), replayed
as its fuzz target feeds it (tests/fuzz/harness.py: in place of its seed's
file, through what `srconvert inspect` calls, in this process): each ends in
a result or one of srconvert's own errors (exit 1-3) in one or two lines
naming the file, and nothing is written beside it. The corpus holds every
input that once crashed srconvert (exit 70), each named after what it found;
a crash found later joins it with its fix (tests/fuzz/corpus/README.md)."""

from __future__ import annotations

import json
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


# --- Readers that would spin forever: refused before they are called ---------------------------


@pytest.fixture(scope="module")
def connected():
    """A tf_keras topology with what makes Keras's call numbering subtle: a
    layer called twice (the second call reading the first) and a nested model."""
    from converter.core import tf_runtime

    keras = tf_runtime.tf_keras()
    inner_in = keras.Input((None, None, 4))
    inner = keras.Model(inner_in, keras.layers.ReLU()(inner_in), name="inner")
    image = keras.Input((None, None, 3), name="image")
    shared = keras.layers.Conv2D(4, 3, padding="same", name="shared")
    features = inner(shared(keras.layers.Conv2D(3, 1, name="head")(image)))
    model = keras.Model(image, keras.layers.Add(name="sum")([features, inner(features)]), name="net")
    return json.loads(model.to_json())["config"], keras  # as a file holds it: JSON, tuples as lists


def _layer(config, name):
    return next(layer for layer in config["layers"] if layer["name"] == name)


def test_a_topology_keras_wrote_is_connected(connected):
    import copy

    from converter.graphs.topology import malformed

    config, keras = connected
    topology = {"class_name": "Functional", "config": copy.deepcopy(config)}
    assert malformed(topology) is None
    assert len(_layer(config, "inner")["inbound_nodes"]) == 2  # what the check must allow for


@pytest.mark.parametrize("damage, found", [
    (lambda c: _layer(c, "sum")["inbound_nodes"][0][0].__setitem__(1, 5), "reads call 5 of 'inner', whose calls are 1-2"),
    (lambda c: _layer(c, "sum")["inbound_nodes"][0][0].__setitem__(0, "nowhere"), "'nowhere', which net does not"),
    (lambda c: _layer(c, "head")["inbound_nodes"][0][0].__setitem__(0, "sum"), "waits on its own output"),
    (lambda c: _layer(c, "head")["inbound_nodes"][0][0].__setitem__(1, -1), "reads call -1 of 'image'"),
    (lambda c: _layer(c, "sum").__setitem__("name", "head"), "two layers named 'head'"),
    (lambda c: _layer(c, "sum")["inbound_nodes"][0].__setitem__(0, "image"), "not [layer, call, tensor]"),
])
def test_a_topology_tf_keras_would_retry_forever_is_refused(connected, damage, found):
    """tf_keras's rebuild retries a call whose input is missing with no end
    (reconstruct_from_config): each damage here would spin it."""
    import copy

    from converter.graphs.topology import malformed

    config = copy.deepcopy(connected[0])
    damage(config)
    assert found in (malformed({"class_name": "Functional", "config": config}) or "")


def _global_heap_file(path):
    import h5py

    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = [b"first", b"second", b"third"]  # what Keras writes: names in a global heap
        handle.attrs["model_config"] = '{"class_name": "Functional"}'
    data = bytearray(path.read_bytes())
    return data, data.find(b"GCOL")


def test_a_global_heap_libhdf5_would_walk_forever_is_refused(tmp_path):
    from converter.core.errors import BadInput
    from converter.sources import declared

    path = tmp_path / "model.h5"
    data, start = _global_heap_file(path)
    with declared.hdf5_file(path) as handle:  # as written: read as usual
        assert list(handle.attrs["layer_names"]) == ["first", "second", "third"]
    first = start + 16
    second = first + 16 + 8  # "first" is 5 bytes, padded to 8
    for record, size in ((second, 0), (first, 1 << 40)):  # a free-space record that never moves on; one past the end
        damaged = bytearray(data)
        damaged[record:record + 2] = b"\0\0" if size == 0 else damaged[record:record + 2]
        damaged[record + 8:record + 16] = size.to_bytes(8, "little")
        path.write_bytes(damaged)
        with pytest.raises(BadInput, match=f"global heap collection at byte {start} is damaged"):
            with declared.hdf5_file(path):
                pass


def test_a_string_that_declares_gigabytes_is_refused_within_a_ceiling(tmp_path):
    """A fuzzed weights file whose name list has a variable-length string
    declaring about 4 GiB: libhdf5 allocated it (peak 4.1 GiB, 13 s) under a
    2 GiB reading budget, while h5py held the GIL and the guard's watcher
    could not sample. Under memory.ceiling the allocation fails at once."""
    from conftest import assert_clean_error, run_cli_measured

    source = CORPUS / "isr-weights-only" / "vlen-string-declares-gigabytes.hdf5"
    result, peak = run_cli_measured("inspect", source, cwd=tmp_path)
    assert_clean_error(result, 2, "layer_names cannot be read", "memory allocation failed")
    assert peak < 512 << 20, peak


def test_the_ceiling_is_lifted_after_its_block():
    import resource

    from converter.core import memory

    before = resource.getrlimit(resource.RLIMIT_AS)
    with memory.ceiling(1 << 30):
        assert resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY
        with pytest.raises(MemoryError):
            bytearray(2 << 30)
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_a_child_started_while_another_thread_reads_under_a_ceiling_gets_the_full_limit():
    """CI saw onnxruntime-web fail with "WebAssembly.Memory(): could not
    allocate memory": its Node host started while the reference lane read an
    HDF5 attribute under a ceiling, and inherited the lowered limit."""
    import resource
    import subprocess
    import sys
    import threading

    from converter.core import memory

    inside, release = threading.Event(), threading.Event()

    def read_under_ceiling():
        with memory.ceiling(1 << 30):
            inside.set()
            release.wait(10)

    reader = threading.Thread(target=read_under_ceiling)
    reader.start()
    assert inside.wait(10)
    threading.Timer(0.5, release.set).start()  # the child waits for the read to end
    child = memory.popen([sys.executable, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0])"],
                         stdout=subprocess.PIPE, text=True)
    reader.join()
    assert int(child.communicate()[0]) == resource.getrlimit(resource.RLIMIT_AS)[0]
