"""A PyTorch checkpoint's tensors, read without running anything in it.

A `.pth` is a pickle, and unpickling an untrusted one runs whatever it names.
Torch files are therefore read only by `torch.load(weights_only=True)`,
whose unpickler builds tensors and plain containers and refuses every other
global; `.safetensors` files hold no code at all. Either way the result is a
flat name -> tensor dict, unwrapped from the containers trainers save.
"""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from typing import Any

from converter.core.errors import BadInput, first_line

# Containers trainers wrap the weights in, most specific first: BasicSR and
# traiNNer save `params_ema` beside `params`; the EMA weights are the ones
# published. spandrel.canonicalize_state_dict unwraps the same keys.
CONTAINERS = ("params_ema", "params-ema", "params", "state_dict", "model_state_dict", "model", "net", "netG")
PREFIXES = ("module.", "netG.")


def read(path: Path, safetensors: bool) -> tuple[dict[str, Any], str | None]:
    """The state dict (name -> torch.Tensor) and the container it came out of."""
    raw = _read_safetensors(path) if safetensors else _read_torch(path)
    return unwrap(raw, path)


def _read_safetensors(path: Path) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, ValueError, OSError) as exc:
        raise BadInput(f"not a readable .safetensors file ({exc})", path=path,
                       hint="the download may be truncated: fetch it again") from None


def _read_torch(path: Path) -> Any:
    from converter.sources.boundary import reading

    # What torch.load raises past the cases below (an AssertionError, a KeyError of its unpickler's memo) is
    # the damaged file's, not srconvert's: torch's own code raised it. torch.load hands a file it takes for
    # safetensors to that library (torch/serialization.py), whose SafetensorError is the file's too.
    with reading(path, ("torch", "pickle", "zipfile", "safetensors")):
        return _torch_load(path)


def _torch_load(path: Path) -> Any:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols: the error below says what matters
            return torch.load(str(path), map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError as exc:
        wanted = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if wanted:
            what = f"the checkpoint wants to run code when loaded ({wanted.group(1)})"
        else:
            operand = re.search(r"WeightsUnpickler error: \s*(.+)", str(exc))
            what = "the checkpoint's pickle holds more than tensors" + (f" ({operand.group(1).strip()})"
                                                                       if operand else "")
        raise BadInput(
            f"{what}; srconvert reads tensors only, and nothing in it was executed",
            path=path,
            hint="ask the publisher for a .safetensors file, or re-save the weights with torch.save(model.state_dict())",
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise BadInput(f"not a readable PyTorch checkpoint ({first_line(exc)})", path=path,
                       hint="the download may be truncated: fetch it again") from None


def unwrap(raw: Any, path: Path) -> tuple[dict[str, Any], str | None]:
    """The flat tensor dict inside `raw`, and the key it was found under."""
    import torch

    container = None
    if isinstance(raw, dict):
        for key in CONTAINERS:
            if isinstance(raw.get(key), dict):
                raw, container = raw[key], key
                break
    if not isinstance(raw, dict):
        raise BadInput(f"the checkpoint holds a {type(raw).__name__}, not a dict of weights", path=path,
                       hint="save the network's weights with torch.save(model.state_dict())")
    tensors = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise BadInput("the checkpoint holds no weight tensors", path=path,
                       hint="save the network's weights with torch.save(model.state_dict())")
    for prefix in PREFIXES:
        if all(name.startswith(prefix) for name in tensors):
            tensors = {name[len(prefix):]: value for name, value in tensors.items()}
    return tensors, container
