"""Source formats (after spandrel's architectures): one module per format,
each a `Reader` entry of the ordered registry `READERS`: `FORMATS` (the
format names it reads, with titles), `detect` (a
predicate over a `Probe` of the path's content), `content_bytes` (what the
file declares it holds, checked against what it can hold: metadata only),
`describe` (what the file says about itself: cheap, no TensorFlow) and
`load` (the weights, and the source model as the parity reference). Modules whose topology is derived
rather than read (weights-only files, ONNX graphs) also have
`derive_topology`, which `load` and `srconvert inspect` share; and
`LIBRARIES`, the libraries that parse its files, whose own exceptions are
the file's fault (`boundary`: every call into a reader runs inside it).

Detection asks the readers in `READERS` order; the first that
claims a path reads it. Before anything is described, the path is admitted (regular files
and folders only: `admission`), its declared content checked (`declared`)
and the run's memory budget set against it (`converter.core.memory`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from converter.core import deadline, memory
from converter.core.errors import BadInput
from converter.core.registry import Registry
from converter.graphs import topology
from converter.sources import (
    boundary,
    declared,
    detect,
    keras_archive,
    keras_h5,
    ncnn_model,
    onnx_import,
    pytorch,
    savedmodel,
    tfjs_layers,
    weights_only,
)


@dataclass(frozen=True)
class Reader:
    """One source format's module, as the registry holds it."""

    name: str
    formats: dict[str, str]
    """The format names it reads, with their titles."""
    detect: Callable[[detect.Probe], str | None]
    content_bytes: Callable[[detect.Probe], declared.Content]
    describe: Callable[[detect.Probe, str, Any], dict[str, Any]]
    load: Callable[[Any, Any], Any]
    derive_topology: Callable[[Any], tuple[dict[str, Any], dict[str, list[Any]]]] | None = None
    """Where the topology is derived rather than read (weights-only, ONNX)."""
    libraries: tuple[str, ...] = ()
    """The modules that parse its files (boundary.reading)."""
    companions: Callable[[Path], list[Path]] | None = None
    """The files besides the given one that the model is read from (an NCNN
    .param's .bin): the source's sha256 covers them too."""

    @classmethod
    def of(cls, module: ModuleType) -> "Reader":
        return cls(module.NAME, module.FORMATS, module.detect, module.content_bytes, module.describe, module.load,
                   getattr(module, "derive_topology", None), getattr(module, "LIBRARIES", ()),
                   getattr(module, "companions", None))


READERS: Registry[Reader] = Registry("source reader", (Reader.of(module) for module in (
    savedmodel, tfjs_layers, keras_h5, weights_only, keras_archive, pytorch, ncnn_model, onnx_import)))
BY_FORMAT = {fmt: reader for fmt, reader in Registry(  # two readers of one format is an error
    "source format", ((fmt, reader) for reader in READERS for fmt in reader.formats), key=lambda pair: pair[0])}
FORMAT_TITLES = {fmt: title for reader in READERS for fmt, title in reader.formats.items()}


@dataclass(frozen=True)
class SourceOptions:
    arch: str | None = None
    arch_params: dict[str, Any] = field(default_factory=dict)
    """Override family detection for weights-only files."""
    user_layers: dict[str, type] = field(default_factory=dict)
    allow_lambda: bool = False
    max_memory: int | None = None
    """The run's memory budget in bytes; None derives it (converter.core.memory)."""
    input_size: Any = None
    """input_size.InputSize: the size a PyTorch checkpoint is exported at (None: free)."""
    export_graph: bool = True
    """PyTorch checkpoints: export the ONNX graph (False: detect only, as `inspect` does)."""
    max_compute: float | None = None
    """MACs per input pixel a model may do; None: converter.graphs.compute's ceiling."""


@dataclass
class SourceInfo:
    path: Path
    format: str
    keras_version: str | None
    topology: dict[str, Any] | None
    """The `{class_name, config}` model object exactly as the source holds
    it; None where the loader derives it (weights-only, ONNX)."""
    payload: Any = None
    """What describing already read and loading reuses."""
    architecture: dict[str, Any] | None = None
    """For a weights-only file: the detected family and its parameters."""
    producer: str | None = None
    """For an ONNX file: the tool that wrote it."""
    input_channels: int | None = None
    """Where the file says it without a topology (ONNX)."""
    derived: tuple[dict[str, Any], dict[str, list[Any]]] | None = field(default=None, repr=False)
    """See `derived`."""
    budget: memory.Budget | None = None
    """The run's memory budget, checked against what the source declares."""
    reference: Any = None
    """Makes the Runner of the source in its own runtime where that is not
    the file itself (a PyTorch checkpoint's network); see onnx_import.source_runner."""
    companions: tuple[Path, ...] = ()
    """Files besides `path` the model is read from (Reader.companions)."""


@dataclass
class Source:
    info: SourceInfo
    topology: dict[str, Any]
    """The source's topology, as held or as derived by its loader."""
    layer_weights: dict[str, list[Any]]
    """Weights per top-level layer name, in that layer's Keras order."""
    reference: Any
    """A Runner for the source model in its own runtime (NHWC in and out);
    None when the canonical model is the source itself (a TFJS folder)."""
    keras2_model: Any = None
    """The loaded model when the source loads in tf_keras itself: it then
    serves as the canonical model too, and nothing is built twice."""


def detect_format(path: Path | detect.Probe) -> str:
    """The format of `path` (or of a Probe of it, whose reads are kept)."""
    probe = path if isinstance(path, detect.Probe) else detect.Probe(Path(path))
    for reader in READERS:
        with boundary.reading(probe.path, reader.libraries):
            fmt = reader.detect(probe)
        if fmt is not None:
            return fmt
    raise detect.unclaimed(probe)


def source_sha256(path: Path, fmt: str | None) -> str:
    """What a manifest records of the source, and `verify` checks (hashing.sha256_of)."""
    from converter.core.hashing import sha256_of

    reader = BY_FORMAT.get(fmt) if fmt else None
    return sha256_of(Path(path), companions_of(Path(path), reader))


def companions_of(path: Path, reader: "Reader | None") -> tuple[Path, ...]:
    return tuple(reader.companions(path)) if reader is not None and reader.companions else ()


def declared_content(path: Path) -> tuple[str, declared.Content]:
    """A path's format and what it declares it holds (metadata only)."""
    probe = detect.Probe(Path(path))
    fmt = detect_format(probe)
    with boundary.reading(probe.path, BY_FORMAT[fmt].libraries):
        return fmt, BY_FORMAT[fmt].content_bytes(probe)


def describe(path: Path, options: SourceOptions | None = None) -> SourceInfo:
    """Admit, detect, check what the file declares against it and the memory
    budget, then describe: nothing heavy is read before the budget holds."""
    path, options = Path(path), options or SourceOptions()
    # Reading metadata has a budget too: an HDF5 attribute of many pointers
    # to one long string expands to gigabytes, and no call sizes it first;
    # and a deadline, for a reader a damaged file sends round a loop. Both
    # watchers are a Python thread, so neither reaches C code that holds the
    # GIL (h5py): libhdf5's known loop is prevented before the call
    # (declared.global_heaps) and its allocations capped (memory.ceiling).
    with memory.guard(memory.reading_budget(path, options.max_memory), path), \
            deadline.current().call(f"reading what {path.name} declares"):
        probe = detect.Probe(path)  # what detection reads, describing reuses
        fmt = detect_format(probe)
        reader = BY_FORMAT[fmt]
        with boundary.reading(path, reader.libraries):
            content = reader.content_bytes(probe)
    budget = memory.budget_for(path, content.loaded, content.stored, options.max_memory)
    with memory.guard(budget, path), boundary.reading(path, reader.libraries):  # a checkpoint is exported here
        fields = reader.describe(probe, fmt, options)
    if fields.get("topology") is not None and (problem := topology.malformed(fields["topology"])):
        raise BadInput(f"the model's topology is not one Keras writes: {problem}", path=path,
                       hint="the file is damaged, or was not written by Keras: save the model again")
    return SourceInfo(path=path, format=fmt, budget=budget, companions=companions_of(path, reader), **fields)


def derived(info: SourceInfo) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """For a format that builds its topology: the topology and the weights by
    layer, derived once (`inspect` needs both, `load` makes its own)."""
    if info.derived is None:
        reader = BY_FORMAT[info.format]
        with boundary.reading(info.path, reader.libraries):
            info.derived = reader.derive_topology(info)
    return info.derived


def topology_of(info: SourceInfo) -> dict[str, Any]:
    return info.topology if info.topology is not None else derived(info)[0]


def reading(info: SourceInfo):
    """The format's boundary (boundary.reading) for code outside the reader
    that reads the source file itself (a form reading an HDF5's weights)."""
    return boundary.reading(info.path, BY_FORMAT[info.format].libraries)


def load(info: SourceInfo, options: SourceOptions) -> Source:
    reader = BY_FORMAT[info.format]
    with boundary.reading(info.path, reader.libraries):
        loaded = reader.load(info, options)
    topology = loaded.topology if loaded.topology is not None else info.topology
    return Source(info, topology, loaded.layer_weights, loaded.reference, loaded.keras2_model)
