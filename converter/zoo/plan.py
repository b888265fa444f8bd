"""`srconvert zoo plan`: every entry of an OpenModelDB index, whether
srconvert builds it, the weights file it builds from, and the shard that
builds it.

Weights are found in the weights folder by size, then sha256 (only files of
a size some entry names are hashed); nothing is downloaded, and a URL is
only the file name to suggest. Shards balance the estimated work of their
entries (longest first, each to the least loaded shard), not their counts,
and depend only on the index and the weights found: every machine that
sees the same two computes the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.core.errors import BadInput
from converter.core.hashing import sha256_file
from converter.zoo import families
from converter.zoo.index import Entry, Malformed, Resource, read


@dataclass(frozen=True)
class Planned:
    id: str
    architecture: str | None
    scale: int | None
    supported: bool
    reason: str | None
    """Why it is not supported, or, when it is, why it will still not be built (no weights)."""
    weights: str | None
    """The weights file, relative to the weights folder."""
    resource: Resource | None
    entry: Entry | None
    work: float
    """Estimated CPU seconds (families.estimated_seconds): 0 when not built."""
    shard: int | None = None
    """1-based; None when not built."""

    def as_dict(self, shards: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "architecture": self.architecture,
            "scale": self.scale,
            "supported": self.supported,
            "reason": self.reason,
            "weights": self.weights,
            "sha256": self.resource.sha256 if self.resource else None,
            "estimated_cpu_seconds": round(self.work, 1) if self.shard else None,
            "shard": f"{self.shard}/{shards}" if self.shard else None,
        }


@dataclass(frozen=True)
class Plan:
    entries: tuple[Planned, ...]
    shards: int

    def of_shard(self, shard: int) -> list[Planned]:
        return [p for p in self.entries if p.shard == shard]

    @property
    def built(self) -> list[Planned]:
        return [p for p in self.entries if p.shard]

    def shard_work(self) -> list[dict[str, Any]]:
        return [{"shard": f"{i}/{self.shards}", "entries": len(self.of_shard(i)),
                 "estimated_cpu_seconds": round(sum(p.work for p in self.of_shard(i)), 1)}
                for i in range(1, self.shards + 1)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "shards": self.shards,
            "work": "estimated CPU seconds of convert + parity at the default precisions (a guess from the "
                    "family and the checkpoint's size, used to balance shards; not a measurement)",
            "entries": [p.as_dict(self.shards) for p in self.entries],
            "shard_work": self.shard_work(),
            # Ready for a GitHub Actions `strategy.matrix`.
            "matrix": {"include": [{"shard": f"{i}/{self.shards}"} for i in range(1, self.shards + 1)]},
        }


def parse_shard(text: str) -> tuple[int, int]:
    """`i/N`, 1 <= i <= N."""
    try:
        index, total = (int(part) for part in text.split("/"))
    except ValueError:
        raise BadInput(f"--shard {text!r} is not i/N", hint="e.g. --shard 1/3 (shards count from 1)") from None
    if not 1 <= index <= total:
        raise BadInput(f"--shard {text}: i must be between 1 and N", hint="shards count from 1: 1/3, 2/3, 3/3")
    return index, total


def make(index: Path, weights_dir: Path, shards: int = 1) -> Plan:
    if shards < 1:
        raise BadInput(f"--shards {shards}: a plan needs at least one shard")
    entries = read(index)
    found = find_weights(weights_dir, [r for e in entries if isinstance(e, Entry) for r in e.weights])
    planned = [_classify(e, found) for e in entries]
    return Plan(tuple(_assign(planned, shards)), shards)


def _classify(entry: Entry | Malformed, found: dict[str, str]) -> Planned:
    if isinstance(entry, Malformed):
        return Planned(entry.id, None, None, False, f"malformed entry: {entry.reason}", None, None, None, 0.0)
    reason = families.reason_left_out(entry.architecture, entry.input_channels, entry.output_channels)
    if reason is None and not entry.weights:
        reason = "it lists no .pth, .safetensors or .onnx resource"
    if reason is not None:
        return Planned(entry.id, entry.architecture, entry.scale, False, reason, None, None, entry, 0.0)
    for resource in entry.weights:
        if resource.sha256 in found:
            work = families.estimated_seconds(entry.architecture, resource.size)
            return Planned(entry.id, entry.architecture, entry.scale, True, None, found[resource.sha256],
                           resource, entry, work)
    first = entry.weights[0]
    return Planned(entry.id, entry.architecture, entry.scale, True,
                   f"its weights are not in the weights folder: put {first.file_name} (sha256 {first.sha256[:12]}…, "
                   f"{first.size} bytes) there", None, None, entry, 0.0)


def _assign(planned: list[Planned], shards: int) -> list[Planned]:
    """Longest estimated work first, each to the least loaded shard (ties: the lower shard)."""
    load = [0.0] * shards
    shard_of: dict[str, int] = {}
    for p in sorted((p for p in planned if p.weights), key=lambda p: (-p.work, p.id)):
        lightest = min(range(shards), key=lambda i: (load[i], i))
        load[lightest] += p.work
        shard_of[p.id] = lightest + 1
    return [Planned(**{**p.__dict__, "shard": shard_of.get(p.id)}) for p in planned]


def find_weights(folder: Path, wanted: list[Resource]) -> dict[str, str]:
    """sha256 -> the file's path relative to `folder`, for each wanted resource found."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput("the weights folder does not exist", path=folder,
                       hint="give the folder that holds the zoo's downloaded .pth/.safetensors/.onnx files")
    by_size: dict[int, set[str]] = {}
    for resource in wanted:
        by_size.setdefault(resource.size, set()).add(resource.sha256)
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        try:
            if not path.is_file() or path.stat().st_size not in by_size:
                continue
        except OSError:
            continue
        digest = sha256_file(path)
        if digest in by_size[path.stat().st_size] and digest not in found:
            found[digest] = path.relative_to(folder).as_posix()
    return found


def render(plan: Plan) -> str:
    lines = [f"{'id':44s} {'architecture':12s} {'scale':>5s}  {'shard':7s} note"]
    for p in plan.entries:
        shard = f"{p.shard}/{plan.shards}" if p.shard else "-"
        note = p.reason or p.weights or ""
        lines.append(f"{p.id[:44]:44s} {(p.architecture or '?')[:12]:12s} {p.scale or '':>5}  {shard:7s} {note}")
    supported = [p for p in plan.entries if p.supported]
    lines.append("")
    lines.append(f"{len(plan.entries)} entries: {len(supported)} of kinds srconvert builds, "
                 f"{len(plan.entries) - len(supported)} not; {len(plan.built)} with weights found, "
                 f"in {plan.shards} shard{'s' if plan.shards > 1 else ''}")
    for shard in plan.shard_work():
        hours = shard["estimated_cpu_seconds"] / 3600
        models = f"{shard['entries']} model{'' if shard['entries'] == 1 else 's'}"
        lines.append(f"  shard {shard['shard']}: {models}, about {hours:.2f} CPU hours (estimate)")
    return "\n".join(lines)


def load(plan_file: Path, index: Path, weights_dir: Path, shard: int) -> Plan:
    """The plan `zoo plan --json` wrote (the plan job's), for a machine that
    holds only its own shard's weights: the shard assignment is read, not
    recomputed, and this shard's weights are checked (present, sha256)."""
    from converter.sources import safe_json

    plan_file = Path(plan_file)
    try:
        data = safe_json.loads(plan_file.read_bytes(), plan_file, "the plan")
        shards, records = int(data["shards"]), {r["id"]: r for r in data["entries"]}
    except OSError as error:
        raise BadInput(f"cannot read the plan ({error.strerror or error})", path=plan_file) from None
    except (KeyError, TypeError, ValueError):
        raise BadInput("is not a plan `srconvert zoo plan --json` wrote", path=plan_file,
                       hint="give the file the plan job saved from `zoo plan --json`") from None
    entries = {e.id: e for e in read(index)}
    if set(entries) != set(records):
        differ = sorted(set(entries) ^ set(records))
        raise BadInput(f"the plan and the index hold different entries ({', '.join(differ[:3])}"
                       f"{'…' if len(differ) > 3 else ''})", path=plan_file,
                       hint="build from the index the plan was made from")
    if not 1 <= shard <= shards:
        raise BadInput(f"--shard {shard}/…: the plan has {shards} shard{'s' if shards > 1 else ''}", path=plan_file)
    planned = [_from_record(entries[i], records[i], shards, plan_file) for i in sorted(records)]
    for p in planned:
        if p.shard == shard:
            _check_weights(Path(weights_dir), p)
    return Plan(tuple(planned), shards)


def _from_record(entry: Entry | Malformed, record: dict[str, Any], shards: int, plan_file: Path) -> Planned:
    mismatch = BadInput(f"the plan's record of {entry.id} does not match its entry in the index", path=plan_file,
                        hint="build from the index the plan was made from")
    try:
        shard = record["shard"]
        if shard is None:
            planned = _classify(entry, {})
            return Planned(**{**planned.__dict__, "reason": record.get("reason") or planned.reason})
        index, total = (int(part) for part in str(shard).split("/"))
        resource = next(r for r in entry.weights if r.sha256 == record["sha256"])
        weights = str(record["weights"])
        work = float(record["estimated_cpu_seconds"])
    except (KeyError, TypeError, ValueError, AttributeError, StopIteration):
        raise mismatch from None
    if total != shards or not 1 <= index <= total or Path(weights).is_absolute() or ".." in Path(weights).parts:
        raise mismatch
    return Planned(entry.id, entry.architecture, entry.scale, True, None, weights, resource, entry, work, index)


def _check_weights(folder: Path, planned: Planned) -> None:
    path = folder / str(planned.weights)
    assert planned.resource is not None
    if not path.is_file():
        raise BadInput(f"{planned.id}'s weights are not in the weights folder: the plan names {planned.weights}",
                       path=folder, hint=f"fetch {planned.resource.file_name} (sha256 {planned.resource.sha256}) "
                                         "there before building this shard")
    if path.stat().st_size != planned.resource.size or sha256_file(path) != planned.resource.sha256:
        raise BadInput(f"{planned.id}'s weights file is not the one its entry names (size or sha256 differ)",
                       path=path, hint="fetch the file again; srconvert builds only the weights the entry names")
