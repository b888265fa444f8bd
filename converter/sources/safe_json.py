"""JSON from a source file, parsed as the untrusted input it is.

Python's json parser recurses once per nested list or object, so a few
hundred kilobytes of `[[[[...` end it with RecursionError (CPython's limit is
1000 frames): a crash, not a refusal. `loads` therefore measures the nesting
first, with a scan that does not recurse and runs at C speed (string
replaces, a byte filter, one regular expression over what is left and numpy's
running sum: 0.08-0.2 s for 20 MB of config, 0.8 s for 64 MiB of `[`), and
refuses as `BadInput` what no model holds:

- MAX_BYTES, 64 MiB of text: a Keras config for a thousand-layer network is a
  few MB (the fixtures' are 18-80 KB for 40-90 layers).
- MAX_DEPTH, 256 levels: the fixtures nest 8 (Keras 2 model_config) to 11
  (Keras 3 config.json: a layer's `inbound_nodes` args hold keras tensors
  whose `keras_history` is a list, 7 levels below the layer); TF.js model.json
  and SavedModel metadata 9-10, metadata.json 1. Each nested sub-model adds 3
  (config, layers, the layer), so 256 leaves room for 80 levels of models
  inside models, while staying well below where the parser and srconvert's
  own recursive walks over a config (`topology.iter_objects`) would hit the
  1000-frame limit.

A RecursionError is still caught, as a last line of defence. srconvert's own
manifests are not read through here: they are its own output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from converter.core.errors import BadInput, one_line
from converter.core.memory import format_bytes

MAX_BYTES = 64 << 20
MAX_DEPTH = 256
HINT = "the file is damaged or was made to crash its reader; nothing was loaded"

# The scan keeps only what decides nesting: escaped backslashes and quotes go
# first (so every quote left opens or closes a string), then every byte but
# quotes and brackets; two adjacent quotes enclose nothing (an empty string, or
# nothing between two strings), the strings left go with their brackets, and
# each remaining bracket becomes a step of +1 or -1, summed by numpy.
_MARKS = b'"[]{}'
_OTHER_BYTES = bytes(byte for byte in range(256) if byte not in _MARKS)
_STRING = re.compile(rb'"[^"]*"?')  # an unterminated string runs to the end
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_CHUNK = 1 << 20  # summed in chunks: a 64 MiB file's sums at once would take 256 MiB


def depth(text: str) -> int:
    """How deep `text` nests lists and objects: exactly for valid JSON; for
    invalid JSON at least as deep as the parser gets before it fails."""
    unescaped = text.replace("\\\\", "").replace('\\"', "").encode("utf-8", "surrogatepass")
    marks = unescaped.translate(None, _OTHER_BYTES).replace(b'""', b"")
    steps = np.frombuffer(_STRING.sub(b"", marks).translate(_STEPS), np.int8)
    level = deepest = 0
    for start in range(0, len(steps), _CHUNK):
        sums = np.cumsum(steps[start:start + _CHUNK], dtype=np.int32)
        deepest, level = max(deepest, level + int(sums.max())), level + int(sums[-1])
    return deepest


def loads(data: str | bytes, path: str | Path, what: str, max_bytes: int = MAX_BYTES,
          max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads(data)`, or BadInput naming `path` and `what` (the item in
    it, e.g. "config.json" or "the model_config attribute")."""
    if len(data) > max_bytes:
        raise BadInput(f"{what} holds {format_bytes(len(data))} of JSON; a model's is at most "
                       f"{format_bytes(max_bytes)}", path=path, hint=HINT)
    try:
        # Decoded as json.loads decodes bytes (UTF-8, -16 or -32, by their first bytes).
        text = data.decode(json.detect_encoding(data), "surrogatepass") if isinstance(data, bytes) else data
        nesting = depth(text)
        if nesting > max_depth:
            raise BadInput(f"{what} nests {nesting} levels deep (limit {max_depth}): not a model's config",
                           path=path, hint=HINT)
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{what} is not valid JSON ({one_line(exc, 200)})", path=path,
                       hint="re-export the model") from None
    except RecursionError:
        raise BadInput(f"{what} nests too deep to parse", path=path, hint=HINT) from None
