"""manifest.json: what a bundle holds and how it was made and verified.

CI jobs and other tools read these key names; change them only with a new
`schema_version`. Keys are sorted and no timestamp is written unless
SOURCE_DATE_EPOCH asks for one, so identical inputs give identical bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from converter import __version__
from converter.core.errors import BadInput
from converter.core.hashing import sha256_file
from converter.core.input_size import InputSize

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
REPORT_FILES = ("parity.json", "parity.md", "parity.html")
RELEASE_FILES = ("model.js", "package.json", "README.md")
"""What `build` adds to a bundle (converter/package_npm)."""
READING_LIBRARIES = ("tensorflow", "tf_keras", "keras", "numpy", "h5py")
"""The Python distributions every run reads sources and computes with; the
targets and runtimes name theirs (targets.libraries)."""


@dataclass
class Artifact:
    format: str
    precision: str
    entry: str
    """Relative path of the file a runtime opens, e.g. tfjs/uint8/model.json."""
    files: list[dict[str, Any]] = field(default_factory=list)
    parity: dict[str, Any] | None = None
    layout: str = "nhwc"
    """Input/output tensor layout the artifact expects: nhwc or nchw."""
    quantization: dict[str, Any] | None = None
    """How a lossy precision stores and computes (the quantizer's SCHEME)."""
    unsupported_backends: dict[str, str] | None = None
    """Runtimes that cannot run it, and why: not run, never claimed to pass."""
    input_sizes: dict[str, Any] | None = None
    """The input sizes it takes (input_size.Sizes.as_dict()): parity ran it at those only."""

    @property
    def bytes(self) -> int:
        return sum(f["bytes"] for f in self.files)

    @property
    def name(self) -> str:
        return f"{self.format}/{self.precision}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "precision": self.precision,
            "entry": self.entry,
            "files": self.files,
            "parity": self.parity,
            "layout": self.layout,
            "quantization": self.quantization,
            "unsupported_backends": self.unsupported_backends,
            "input_sizes": self.input_sizes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Artifact":
        return cls(
            data["format"], data["precision"], data["entry"], list(data["files"]), data.get("parity"),
            data.get("layout", "nhwc"), data.get("quantization"), data.get("unsupported_backends"),
            data.get("input_sizes"),
        )


def describe_files(root: Path, paths: list[Path]) -> list[dict[str, Any]]:
    return [
        {"path": p.relative_to(root).as_posix(), "bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(paths)
    ]


def library_versions(libraries: tuple[str, ...] = ()) -> dict[str, str]:
    """The installed versions of READING_LIBRARIES and `libraries`."""
    versions = {}
    for name in (*READING_LIBRARIES, *libraries):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def created_timestamp() -> int | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return int(epoch) if epoch and epoch.isdigit() else None


def write(path: Path, document: dict[str, Any]) -> dict[str, Any]:
    """Write the manifest; return it exactly as written."""
    document = {"schema_version": SCHEMA_VERSION, **document}
    stamp = created_timestamp()
    if stamp is not None:
        document["created"] = stamp
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return document


def written_files(document: dict[str, Any]) -> list[str]:
    """Every file a bundle of this manifest may hold that srconvert wrote:
    the manifest, its reports, its artifacts' files, its self-check page
    and a release's package."""
    files = [MANIFEST_NAME, *REPORT_FILES]
    files += [f["path"] for a in document.get("artifacts") or [] for f in a.get("files") or []]
    files += [f["path"] for f in (document.get("check_page") or {}).get("files") or []]
    files += [f["path"] for f in document.get("files") or []]  # a zoo's (zoo.merge)
    if document.get("release"):
        files += RELEASE_FILES
    return files


def check_files(bundle: Path, files: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Which of a manifest's `files` records differ from the files under
    `bundle`, and which are missing (verify, the zoo's cache and merge)."""
    changed, missing = [], []
    for entry in sorted({f["path"]: f for f in files}.values(), key=lambda f: f["path"]):
        path = bundle / entry["path"]
        if not path.is_file():
            missing.append(entry["path"])
        elif path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
            changed.append(entry["path"])
    return changed, missing


def document(info, facts, finding, applied, records: dict[str, Any], fixed_topology, artifacts: list[Artifact],
             summary: dict[str, Any], runtime_versions: dict[str, Any], source_label: str, bundle: Path,
             output_range: tuple[float, float] | None = None, release: dict[str, Any] | None = None,
             code: dict[str, Any] | None = None, check_page: dict[str, Any] | None = None,
             libraries: tuple[str, ...] = (), plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of one run. It is reproducible: timings go only to the
    parity reports. `records` are what the targets recorded (targets.records),
    written as they are; `applied` every pass that changed something;
    `finding` the input range and how it is known (parity.input_range);
    `output_range` what the model is meant to produce (default: its input
    range); `code` what user code the conversion ran
    (core.user_layers.code_record), recorded only when there is some;
    `bundle` the folder the manifest is for, which the source's relative
    path starts from; `check_page` the self-check page's files and
    libraries (parity.check_page), when the bundle has one; `libraries` the
    Python distributions the targets and runtimes use (targets.libraries);
    `plan` the plan the run carried out (pipeline.plan.Plan.as_dict), which
    `verify` carries out again."""
    from converter.bundle.custom_layers_js import used_layers
    from converter.core import deadline
    from converter.core.hashing import sha256_of
    from converter.passes import FIX, OPTIMIZATION, recorded

    result: dict[str, Any] = {
        "tool": tool(),
        "libraries": {**library_versions(libraries), **runtime_versions},
        "source": {
            "path": source_label,
            # What `verify` finds the source by, wherever it is run from.
            "relative_path": os.path.relpath(os.path.abspath(info.path), os.path.abspath(bundle)),
            "sha256": sha256_of(info.path, info.companions),
            "format": info.format,
            "keras_version": info.keras_version,
            "producer": info.producer,
            "architecture": info.architecture,
            **({"code": code} if code else {}),
        },
        "memory": info.budget.manifest_entry(),
        "time": deadline.current().manifest_entry(),
        "model": {
            "input_multiple": facts.input_multiple,
            "params": facts.params,
            "scale": facts.scale,
            # The work it does per input pixel, counted in its graph (converter.graphs.compute).
            "compute": facts.compute.as_dict() if facts.compute is not None else None,
            "input_channels": facts.input_channels,
            "input_shape": facts.input_shape,
            # The patch size the fixed-size artifacts are built for (HxW), else None;
            # each artifact's `input_sizes` says what it takes.
            "input_size": patch_size(facts, artifacts),
            "input_range": list(finding.range),
            "input_range_origin": finding.origin,
            "input_range_evidence": finding.as_dict(),
            "output_range": list(output_range or finding.range),
            # What the source produced on the parity inputs; None when nothing ran.
            "output_range_measured": ([summary["reference"]["low"], summary["reference"]["high"]]
                                      if summary.get("reference") else None),
        },
        "fixes": recorded(applied, FIX),
        "optimizations": recorded(applied, OPTIMIZATION),
        "custom_layers": [layer.name for layer in used_layers(fixed_topology)] if fixed_topology else [],
        **records,
    }
    if release is not None:
        result["release"] = release
    if check_page is not None:
        result["check_page"] = check_page
    if plan is not None:
        result["plan"] = plan
    result = with_parity(result, summary)
    result["artifacts"] = [without_timings(a.as_dict()) for a in artifacts]
    return result


def patch_size(facts, artifacts: list[Artifact]) -> str | None:
    """The one size the run fixed artifacts to: a size-dependent graph's TF.js
    patch, or the size the source itself declares."""
    fixed = sorted({a.input_sizes["fixed"] for a in artifacts if (a.input_sizes or {}).get("fixed")})
    if fixed:
        return fixed[0]
    return str(size) if (size := InputSize.of_shape(facts.input_shape)) else None


def with_parity(document: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """`document` with the run's parity summary (timings left out)."""

    return {**document, "parity": without_timings(summary)}


def tool() -> dict[str, str]:
    return {"name": "srconvert", "version": __version__}


def read(bundle: Path) -> dict[str, Any]:
    path = bundle / MANIFEST_NAME
    if not path.is_file():
        raise BadInput("no manifest.json: not an srconvert bundle", path=bundle, hint="give the folder `convert -o` wrote")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"manifest.json is unreadable ({exc})", path=path) from None
    if document.get("schema_version") != SCHEMA_VERSION:
        raise BadInput(
            f"manifest schema_version {document.get('schema_version')} is not {SCHEMA_VERSION}",
            path=path,
            hint="verify it with the srconvert version that wrote it",
        )
    return document


TIMING_KEYS = ("ms", "first_ms")


def without_timings(value: Any) -> Any:
    """A copy with every timing dropped: timings differ run to run, so files
    meant to be reproducible (the manifest, release reports) leave them out."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value
