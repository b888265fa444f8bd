"""OpenModelDB entries (`data/models/<id>.json`; the schema is
`src/lib/schema.ts` of github.com/OpenModelDB/open-model-database), read as
the untrusted input they are: a file that is not a well-formed entry becomes
a `Malformed` record with its reason, never an exception, so one bad entry
never stops a plan of hundreds.

Only what a build needs is kept. A resource's URLs are names, never fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.core.errors import BadInput

MAX_ENTRY_BYTES = 1 << 20
"""The largest real entry is about 10 KB (descriptions are Markdown)."""
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
"""An id names the release folder DIST/<id>/: no separators, no leading dot."""
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$")
"""A file name safe to print (URLs are the entry author's text)."""
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
WEIGHT_TYPES = {("pytorch", "pth"), ("pytorch", "safetensors"), ("onnx", "onnx")}


@dataclass(frozen=True)
class Resource:
    platform: str
    type: str
    size: int
    sha256: str
    urls: tuple[str, ...]

    @property
    def file_name(self) -> str:
        """The file name its first URL gives, where that names a file of its
        type (many are share links: `view`, `open`), else `its .pth file`.
        Only a hint: weights are found by their hash, whatever their name."""
        for url in self.urls[:1]:
            name = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
            if SAFE_NAME.match(name) and name.lower().endswith(f".{self.type}"):
                return name
        return f"its .{self.type} file"


@dataclass(frozen=True)
class Entry:
    id: str
    name: str
    authors: tuple[str, ...]
    license: str | None
    architecture: str
    scale: int
    input_channels: int
    output_channels: int
    size: tuple[str, ...]
    tags: tuple[str, ...]
    description: str
    date: str
    """yyyy-mm-dd, when the model was published ('' if the entry has none)."""
    resources: tuple[Resource, ...]

    @property
    def weights(self) -> tuple[Resource, ...]:
        """Its resources srconvert can read, PyTorch first (the reference parity trusts most)."""
        usable = [r for r in self.resources if (r.platform, r.type) in WEIGHT_TYPES]
        return tuple(sorted(usable, key=lambda r: r.platform != "pytorch"))


@dataclass(frozen=True)
class Malformed:
    id: str
    reason: str


def read(folder: Path) -> list[Entry | Malformed]:
    """Every `*.json` in `folder`, sorted by id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput("is not a folder of OpenModelDB entries", path=folder,
                       hint="give the data/models folder of a clone of OpenModelDB/open-model-database")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise BadInput("holds no *.json entries", path=folder,
                       hint="give the data/models folder of a clone of OpenModelDB/open-model-database")
    return [read_entry(path) for path in files]


def read_entry(path: Path) -> Entry | Malformed:
    from converter.sources import safe_json

    entry_id = path.stem
    if not ID.match(entry_id):
        return Malformed(entry_id, "its file name is not a usable id (letters, digits, '.', '_', '+', '-')")
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            return Malformed(entry_id, f"the file is over {MAX_ENTRY_BYTES >> 20} MiB; entries are a few KB")
        data = safe_json.loads(path.read_bytes(), path, "the entry")
        return _entry(entry_id, data)
    except BadInput as error:
        return Malformed(entry_id, error.message)
    except (OSError, UnicodeDecodeError) as error:
        return Malformed(entry_id, f"cannot be read ({error})")
    except _Invalid as error:
        return Malformed(entry_id, str(error))


class _Invalid(Exception):
    pass


def _entry(entry_id: str, data: Any) -> Entry:
    if not isinstance(data, dict):
        raise _Invalid("the file is not a JSON object")
    author = _field(data, "author", (str, list))
    authors = (author,) if isinstance(author, str) else tuple(_strings(author, "author"))
    license = data.get("license")
    if license is not None and not isinstance(license, str):
        raise _Invalid("'license' is neither a string nor null")
    size = data.get("size")
    if size is not None and not isinstance(size, list):
        raise _Invalid("'size' is neither a list nor null")
    resources = _field(data, "resources", list)
    return Entry(
        id=entry_id,
        name=_field(data, "name", str),
        authors=authors,
        license=license,
        architecture=_field(data, "architecture", str),
        scale=_positive(data, "scale"),
        input_channels=_positive(data, "inputChannels"),
        output_channels=_positive(data, "outputChannels"),
        size=tuple(_strings(size or [], "size")),
        tags=tuple(_strings(_field(data, "tags", list), "tags")),
        description=_field(data, "description", str),
        date=data["date"] if isinstance(data.get("date"), str) and DATE.match(data["date"]) else "",
        resources=tuple(_resource(r, i) for i, r in enumerate(resources)),
    )


def _field(data: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data:
        raise _Invalid(f"'{key}' is missing")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _Invalid(f"'{key}' has the wrong type ({type(value).__name__})")
    return value


def _positive(data: dict, key: str) -> int:
    value = _field(data, key, int)
    if not 1 <= value <= 64:
        raise _Invalid(f"'{key}' is {value}, not between 1 and 64")
    return value


def _strings(values: list, key: str) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise _Invalid(f"'{key}' holds something other than strings")
    return values


def _resource(data: Any, index: int) -> Resource:
    where = f"resources[{index}]"
    if not isinstance(data, dict):
        raise _Invalid(f"{where} is not an object")
    try:
        platform, kind = _field(data, "platform", str), _field(data, "type", str)
        if (platform, kind) not in WEIGHT_TYPES:  # ncnn's pair of files, or a type srconvert never reads
            return Resource(platform, kind, 0, "", ())
        size, sha256 = _field(data, "size", int), _field(data, "sha256", str).lower()
        urls = tuple(_strings(_field(data, "urls", list), "urls"))
    except _Invalid as error:
        raise _Invalid(f"{where}: {error}") from None
    if size <= 0:
        raise _Invalid(f"{where}: 'size' is {size}")
    if not SHA256.match(sha256):
        raise _Invalid(f"{where}: 'sha256' is not 64 hexadecimal digits")
    return Resource(platform, kind, size, sha256, urls)
