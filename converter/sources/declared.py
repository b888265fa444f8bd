"""What a source declares it holds, checked against what its file can hold
before anything is allocated.

Containers state sizes that the readers then trust: an HDF5 dataset's shape,
a zip member's uncompressed size, an ONNX initializer's dims, a TF.js weight
manifest, a safetensors header. A file of a few kilobytes can declare
terabytes (chunks never written read back as fill values; a deflate stream of
zeros expands about a thousand times), and the reader allocates what was
declared. So each function here reads only metadata, refuses a declaration
the file cannot back, and returns the bytes the source's content takes once
loaded: the figure the memory budget is checked against (`converter.core.memory`).
"""

from __future__ import annotations

import math
import mmap
import os
import struct
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from converter.core import memory
from converter.core.errors import BadInput
from converter.core.memory import format_bytes
from converter.sources import safe_json
from converter.sources.admission import open_regular

# Deflate peaks near 1032:1 on constant data; float weights compress about
# 1.1:1 and JSON about 10:1. Anything past 100:1 is not a model's content.
MAX_EXPANSION = 100
# Items this small may expand freely: a zero bias compresses very well.
EXPANSION_FLOOR = 1 << 20
MAX_JSON_BYTES = safe_json.MAX_BYTES  # one limit for every JSON a source holds
# Keras keeps lists of layer and weight names in HDF5 attributes: a
# thousand-layer model lists a thousand layers.
MAX_ATTRIBUTE_ITEMS = 100_000
MAX_ARCHIVE_MEMBERS = 10_000
ATTRIBUTE_CEILING = 1 << 30
"""What reading one HDF5 attribute may map (memory.ceiling): 16x the largest a
Keras config may be (MAX_JSON_BYTES), and far more than 100,000 layer names."""
HINT = "the file is damaged or was made to exhaust memory; nothing was loaded"


@dataclass(frozen=True)
class Content:
    """What a format module's `content_bytes` returns."""

    loaded: int
    """Bytes the content takes once read: weights as arrays, configs as text."""
    stored: int
    """Bytes of the files it is read from."""


def refuse(path: Path, what: str) -> BadInput:
    return BadInput(what, path=path, hint=HINT)


def expansion(path: Path, item: str, declared: int, stored: int, compressed: bool) -> None:
    """Refuse `item` when `declared` bytes cannot come from `stored` bytes."""
    if declared <= EXPANSION_FLOOR or declared <= stored:
        return
    if not compressed or declared > MAX_EXPANSION * stored:
        raise refuse(path, f"{item} declares {format_bytes(declared)} but the file stores "
                           f"{format_bytes(stored)} of it")


def json_size(path: Path, item: str, declared: int) -> None:
    if declared > MAX_JSON_BYTES:
        raise refuse(path, f"{item} declares {format_bytes(declared)} of JSON; a model's is at most "
                           f"{format_bytes(MAX_JSON_BYTES)}")


# --- HDF5 -------------------------------------------------------------------------------------

@contextmanager
def hdf5_file(path: Path, member: tuple[zipfile.ZipFile, str] | None = None) -> Iterator[Any]:
    """The h5py.File of `path` (or of an archive's member) for reading, once
    its global heaps are known to be walkable (`global_heaps`): the one way
    srconvert opens an HDF5 file."""
    import io

    import h5py

    if member is None:
        with open(path, "rb") as raw:
            if os.fstat(raw.fileno()).st_size:
                with mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ) as data:
                    global_heaps(path, data, "")
        with h5py.File(path, "r") as handle:
            yield handle
        return
    archive, name = member
    data = archive.read(name)  # its expansion was checked with the archive's
    global_heaps(path, data, f"archive member {name}: ")
    with h5py.File(io.BytesIO(data), "r") as handle:
        yield handle


GLOBAL_HEAP = b"GCOL"
LENGTH_BYTES = 8
"""HDF5's "size of lengths", which h5py (and so Keras) always writes as 8."""


def global_heaps(path: Path, data: Any, where: str) -> None:
    """Refuse a global heap collection libhdf5 would walk forever.

    Variable-length strings (every Keras config, layer and weight name list)
    live in global heap collections. libhdf5 (2.0.0, in h5py 3.16) walks a
    collection's records by the sizes they declare, and a free-space record
    of size 0 never moves it on: one attribute read spins forever inside C,
    where nothing in Python can stop it (HDF5 issue 1707, h5py issue 2088).
    libhdf5 reaches a collection by its address, so each "GCOL" signature in
    the file is one it may read: each is walked here first, as libhdf5
    walks it, and a record that does not fit its collection is refused."""
    start = data.find(GLOBAL_HEAP)
    while start >= 0:
        header = start + 8 + LENGTH_BYTES
        if data[start + 4:start + 5] == b"\x01" and header <= len(data):
            end = start + int.from_bytes(data[start + 8:header], "little")
            at = header
            while at + 8 + LENGTH_BYTES <= min(end, len(data)):
                index = int.from_bytes(data[at:at + 2], "little")
                size = int.from_bytes(data[at + 8:at + 8 + LENGTH_BYTES], "little")
                need = size if index == 0 else 8 + LENGTH_BYTES + -(-size // 8) * 8
                if need == 0 or at + need > end:
                    raise refuse(path, f"{where}the global heap collection at byte {start} is damaged (its record "
                                       f"at byte {at} declares {size} bytes); HDF5 cannot read it")
                at += need
        start = data.find(GLOBAL_HEAP, start + 4)


def hdf5(path: Path) -> int:
    """Every dataset's shape x dtype against the bytes stored for it; links
    and storage that lead to other files are refused."""
    try:
        with hdf5_file(path) as handle:
            return hdf5_handle(handle, path)
    except OSError as exc:
        raise BadInput(f"not a readable HDF5 file ({exc.args[0] if exc.args else exc})", path=path,
                       hint="the download may be truncated: fetch it again") from None


def hdf5_handle(handle: Any, path: Path, item_prefix: str = "") -> int:
    import h5py

    links: list[tuple[str, Any]] = []
    # Collected first: an exception raised inside h5py's visitor is mangled.
    handle.visititems_links(lambda name, link: links.append((name, link)))
    total = 0
    for name, link in links:
        if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
            raise refuse(path, f"HDF5 link {item_prefix}{name} points elsewhere; Keras never writes links")
        obj = handle[name]
        if isinstance(obj, h5py.Dataset):
            total += _dataset(path, f"dataset {item_prefix}{name}", obj)
    return total


def hdf5_attribute(path: Path, attrs: Any, name: str, default: Any = None) -> Any:
    """`attrs[name]`, text decoded and arrays as lists, refused when it
    declares more than Keras keeps in an attribute: an attribute is read
    whole. A variable-length string is only a reference to text elsewhere in
    the file, and neither h5py nor HDF5 can size that text before reading it
    (one string's is within the file; array elements may share one), so the
    number of such strings is bounded here and a config's text after reading
    (`safe_json`)."""
    import h5py

    if name not in attrs:
        return default
    item = f"HDF5 attribute {name}"
    attribute = attrs.get_id(name)
    count = math.prod(attribute.shape or ())
    vlen = h5py.check_vlen_dtype(attribute.dtype)
    if vlen is not None and vlen not in (str, bytes):
        raise refuse(path, f"{item} holds variable-length sequences; Keras writes none")
    if count > MAX_ATTRIBUTE_ITEMS:
        raise refuse(path, f"{item} lists {count} items; Keras writes one per layer or weight")
    if count * attribute.dtype.itemsize > MAX_JSON_BYTES:  # fixed-length strings: their length
        raise refuse(path, f"{item} declares {format_bytes(count * attribute.dtype.itemsize)}; Keras's are at "
                           f"most {format_bytes(MAX_JSON_BYTES)}")
    try:
        with memory.ceiling(ATTRIBUTE_CEILING):
            value = attrs[name]
        if getattr(value, "ndim", 0):  # an array (Keras writes empty ones as float64)
            return [_text(v) for v in value.flat]
        return _text(value)
    except (OSError, MemoryError, UnicodeDecodeError) as exc:
        raise refuse(path, f"{item} cannot be read as text ({exc})") from None


def _text(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _dataset(path: Path, item: str, dataset: Any) -> int:
    if dataset.is_virtual or dataset.external:
        raise refuse(path, f"{item} keeps its data in other files; Keras never does")
    declared = math.prod(dataset.shape or ()) * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    filtered = dataset.id.get_create_plist().get_nfilters() > 0
    expansion(path, item, declared, stored, compressed=filtered)
    return declared


# --- zip (.keras) -----------------------------------------------------------------------------

def zip_entries(handle: Any, path: Path) -> None:
    """Refuse an archive listing more members than a model has, from its end
    record, before zipfile builds an object for each (a central directory
    entry is 46 bytes; its ZipInfo ten times that)."""
    end = zipfile._EndRecData(handle)  # noqa: SLF001 - the only reader of the end record
    if end is not None and end[zipfile._ECD_ENTRIES_TOTAL] > MAX_ARCHIVE_MEMBERS:
        raise refuse(path, f"the archive lists {end[zipfile._ECD_ENTRIES_TOTAL]} members; a model has a handful")
    handle.seek(0)


def zip_archive(path: Path, json_members: Iterable[str] = (), hdf5_members: Iterable[str] = ()) -> int:
    """Each member's declared size against its compressed size; JSON members
    capped; HDF5 members checked inside without extracting them."""
    try:
        with open_regular(path) as raw:
            zip_entries(raw, path)
            archive = zipfile.ZipFile(raw)
            members = archive.infolist()
            total = 0
            for info in members:
                compressed = info.compress_type != zipfile.ZIP_STORED
                if not compressed and info.file_size != info.compress_size:
                    raise refuse(path, f"archive member {info.filename} declares {format_bytes(info.file_size)} "
                                       f"but stores {format_bytes(info.compress_size)}")
                expansion(path, f"archive member {info.filename}", info.file_size, info.compress_size, compressed)
                if info.filename in json_members:
                    json_size(path, f"archive member {info.filename}", info.file_size)
                total += info.file_size
            names = {info.filename for info in members}
            for name in hdf5_members:
                if name in names:
                    total += _hdf5_member(path, archive, name)
            return total
    except zipfile.BadZipFile as exc:
        raise BadInput(f"a damaged zip archive ({exc})", path=path, hint="re-download the file") from None


def _hdf5_member(path: Path, archive: zipfile.ZipFile, name: str) -> int:
    try:
        with hdf5_file(path, (archive, name)) as handle:
            return hdf5_handle(handle, path, item_prefix=f"{name}:")
    except OSError as exc:
        raise BadInput(f"archive member {name} is not a readable HDF5 file ({exc})", path=path,
                       hint="re-export the model") from None


# --- ONNX -------------------------------------------------------------------------------------

# 4-bit types pack two elements a byte (onnx >= 1.16 names them).
PACKED_4BIT_TYPES = ("INT4", "UINT4", "FLOAT4E2M1")

def onnx_model(model: Any, path: Path) -> Content:
    """Every tensor's dims x element size against the bytes it carries, inline
    or in its external file (which must hold offset + size). External files
    are admitted here (inside the model's folder, regular files), once for
    every later reader."""
    from onnx import TensorProto, external_data_helper, helper

    from converter.sources.paths import companion_file

    packed_types = {getattr(TensorProto, name, -1) for name in PACKED_4BIT_TYPES}
    total = 0
    external_files: dict[Path, int] = {}
    for tensor in external_data_helper._get_all_tensors(model):
        item = f"tensor {tensor.name!r}"
        if tensor.data_type in (TensorProto.STRING, TensorProto.UNDEFINED):
            continue
        count = math.prod(tensor.dims)
        itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        packed = tensor.data_type in packed_types
        declared = (count + 1) // 2 if packed else count * itemsize
        if external_data_helper.uses_external_data(tensor):
            fields = {entry.key: entry.value for entry in tensor.external_data}
            target = companion_file(path, fields.get("location", ""), f"external data of {item}",
                                    "keep model.onnx.data beside model.onnx; srconvert reads nothing else")
            try:
                offset, length = int(fields.get("offset") or 0), int(fields.get("length") or declared)
            except ValueError:
                raise refuse(path, f"{item} has a malformed external-data offset or length") from None
            size = external_files.setdefault(target, os.stat(target).st_size)
            if length != declared or offset + length > size:
                raise refuse(path, f"{item} declares {format_bytes(declared)} at offset {offset} of "
                                   f"{target.name}, which holds {format_bytes(size)}")
        else:
            typed = sum(len(getattr(tensor, field)) for field in
                        ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"))
            held = len(tensor.raw_data) if tensor.raw_data else typed * itemsize
            # Typed fields hold one element per entry (4-bit types: two).
            needed = (count + 1) // 2 if packed else count
            if (held != declared) if tensor.raw_data else (typed < needed):
                raise refuse(path, f"{item} declares {format_bytes(declared)} but holds {format_bytes(held)}")
        total += declared
    size = os.stat(path).st_size  # the parsed graph itself is held too
    return Content(total + size, size + sum(external_files.values()))


# --- TF.js ------------------------------------------------------------------------------------

TFJS_BYTES = {"float32": 4, "int32": 4, "uint8": 1, "uint16": 2, "float16": 2, "bool": 1, "complex64": 8}


def tfjs_manifest(model_json: Path, manifest: list[dict[str, Any]], shards: list[Path]) -> int:
    """The manifest's weights (shape x stored dtype) against the shards' sizes;
    returns the bytes once dequantized to float32."""
    declared = loaded = 0
    try:
        for group in manifest:
            for weight in group.get("weights", []):
                count = math.prod(int(d) for d in weight.get("shape", []))
                stored = (weight.get("quantization") or {}).get("dtype") or weight.get("dtype", "float32")
                declared += count * TFJS_BYTES[stored]
                loaded += count * 4
    except (KeyError, TypeError, ValueError) as exc:
        raise refuse(model_json, f"the weights manifest is malformed ({exc!r})") from None
    held = sum(os.stat(shard).st_size for shard in shards)
    if declared != held:
        raise refuse(model_json, f"the weights manifest declares {format_bytes(declared)} but the shards hold "
                                 f"{format_bytes(held)}")
    return loaded + os.stat(model_json).st_size


# --- safetensors ------------------------------------------------------------------------------

SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                     "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8}


def safetensors_header(path: Path) -> dict[str, Any]:
    """The header, checked: its length within the file, each tensor's offsets
    within the data and matching shape x dtype, no two tensors overlapping."""
    size = os.stat(path).st_size
    with open_regular(path) as handle:
        prefix = handle.read(8)
        (length,) = struct.unpack("<Q", prefix) if len(prefix) == 8 else (size,)
        if length > size - 8:
            raise refuse(path, f"the safetensors header declares {format_bytes(length)}; the file holds "
                               f"{format_bytes(size)}")
        json_size(path, "the safetensors header", length)
        header = safe_json.loads(handle.read(length), path, "the safetensors header")
    if not isinstance(header, dict):
        raise refuse(path, "the safetensors header is not a JSON object")
    data = size - 8 - length
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = (int(v) for v in entry["data_offsets"])
            declared = math.prod(int(d) for d in entry["shape"]) * SAFETENSORS_BYTES[entry["dtype"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise refuse(path, f"tensor {name!r} has a malformed header entry ({exc!r})") from None
        if not 0 <= begin <= end <= data or end - begin != declared:
            raise refuse(path, f"tensor {name!r} declares {format_bytes(declared)} at bytes {begin}-{end}; the "
                               f"data section holds {format_bytes(data)}")
        spans.append((begin, end, name))
    spans.sort()
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:]):
        if begin < end:
            raise refuse(path, f"tensors {first!r} and {second!r} overlap")
    return header


def safetensors(path: Path) -> int:
    header = safetensors_header(path)
    return sum(e["data_offsets"][1] - e["data_offsets"][0] for k, e in header.items() if k != "__metadata__")


# --- files read whole -------------------------------------------------------------------------

def folder_bytes(folder: Path) -> int:
    """A folder's files are read as they are (SavedModel: no compression), so
    what they declare is what they weigh."""
    return sum(entry.stat().st_size for entry in folder.rglob("*") if entry.is_file())
