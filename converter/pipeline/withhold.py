"""Publishing what passed. A run may name precisions it can do without (a
zoo's defaults, which nobody asked for by name): an artifact of one of them
that failed its gate is taken out of the bundle, its files removed (srconvert
wrote them in this run's staging folder), and listed as not published, with
what it measured against which gate. Only when every other artifact passed:
otherwise nothing is withheld and the run fails as a whole, so a release
whose float32 fails is not published at all. A precision asked for by name
is never optional, and its failure fails the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from converter.bundle.manifest import Artifact
from converter.core.precisions import Gate
from converter.parity.metrics import number_text, psnr_text


def withhold(stage: Path, artifacts: list[Artifact], summary: dict[str, Any],
             optional: frozenset[str]) -> tuple[list[Artifact], dict[str, Any]]:
    """The artifacts to publish and the run's summary, with `not_published`
    (records, as `record` makes them) when any were withheld."""
    if not optional or summary.get("pass") is not False:
        return artifacts, summary
    failing = [a for a in artifacts if not (a.parity or {}).get("pass")]
    if not failing or any(a.precision not in optional for a in failing):
        return artifacts, summary
    published = [a for a in artifacts if a not in failing]
    if not published:
        return artifacts, summary
    still_read = {f["path"] for a in published for f in a.files}  # TF.js custom-layer files are shared
    for artifact in failing:
        for path in (stage / f["path"] for f in artifact.files if f["path"] not in still_read):
            path.unlink(missing_ok=True)
            _remove_empty_parents(path.parent, stage)
    return published, {**summary, "pass": True, "not_published": [record(a) for a in failing]}


def record(artifact: Artifact) -> dict[str, Any]:
    """What the manifest, the card and the zoo index say of a withheld artifact."""
    parity = artifact.parity or {}
    failed = [r for r in parity.get("results", []) if not r.get("pass")]
    gate = Gate.from_dict(parity["gate"]).describe() if parity.get("gate") else "its gate"
    measured = "; ".join(f"{_measured(r, parity.get('gate') or {})} in {r.get('runtime')}" for r in failed)
    return {"entry": artifact.entry, "format": artifact.format, "precision": artifact.precision,
            "gate": parity.get("gate"),
            "reason": f"not published: measured {measured or 'no passing run'} against gate {gate}"}


def _measured(result: dict[str, Any], gate: dict[str, Any]) -> str:
    """A failed run's figure in its gate's metric (a runtime may have a gate of its own)."""
    if result.get("error"):
        return f"an error ({result['error']})"
    if (result.get("gate") or gate).get("metric") == "max_abs_rel":
        return f"max abs {number_text(result.get('max_abs'), '{:.2e}')}"
    return f"{psnr_text(result)} dB"


def _remove_empty_parents(folder: Path, stage: Path) -> None:
    """Empty folders the removed files leave, up to the staging folder."""
    while folder != stage and stage in folder.parents and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
