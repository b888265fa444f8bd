"""`srconvert doctor`: is everything srconvert runs on here, at the tested versions?

Each check says what it found and, when something is wrong, the command that
fixes it. Exit 0 when all is well, 3 (environment problem) otherwise.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from converter.backends.chromium.host import BROWSER_PACKAGES
from converter.backends.node.host import REPO_ROOT, REQUIRED_PACKAGES, node_executable, node_modules

MIN_NODE_MAJOR = 18
# The packages srconvert imports itself; the rest of constraints.txt follows them.
PYTHON_PACKAGES = ("tensorflow", "tf_keras", "keras", "tensorflowjs", "tf2onnx", "onnx", "onnxruntime",
                   "numpy", "h5py", "click", "pillow", "protobuf", "ydf", "setuptools")


@dataclass
class Check:
    name: str
    found: str
    ok: bool
    fix: str = ""


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)", line.strip())
            if match:
                pins[_normal(match.group(1))] = match.group(2)
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_checks(constraints: Path = REPO_ROOT / "constraints.txt") -> list[Check]:
    pins = _pins(constraints)
    fix = f"make setup  (or: pip install -c {constraints} -e {REPO_ROOT})"
    checks = []
    for name in PYTHON_PACKAGES:
        want = pins.get(_normal(name))
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            checks.append(Check(f"python {name}", "missing", False, fix))
            continue
        ok = want is None or have == want
        checks.append(Check(f"python {name}", have + ("" if ok else f" (tested: {want})"), ok, "" if ok else fix))
    return checks


def pytorch_check(constraints: Path = REPO_ROOT / "constraints.txt") -> Check:
    """The optional pytorch extra: absent is fine (PyTorch checkpoints then
    stop with exit 3 and this fix); present must be the tested versions."""
    from converter.errors import EnvironmentProblem
    from converter.sources.pytorch.families import INSTALL_HINT, import_spandrel

    try:
        import_spandrel()  # imported for real, as a conversion would: installed is not enough
    except EnvironmentProblem:
        return Check("pytorch extra", "not installed (optional: .pth/.safetensors sources need it)", True,
                     INSTALL_HINT)
    pins = _pins(constraints)
    found = {name: metadata.version(name) for name in ("torch", "spandrel")}
    off = [f"{name} {have} (tested: {pins[name]})" for name, have in found.items()
           if pins.get(name) and not have.startswith(pins[name])]
    text = ", ".join(f"{name} {have}" for name, have in found.items())
    return Check("pytorch extra", "; ".join(off) or text, not off, INSTALL_HINT if off else "")


def node_checks() -> list[Check]:
    node = node_executable()
    if node is None:
        return [Check("node", "missing", False, "apt-get install nodejs npm  (Node.js >= 18)")]
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    major = int(re.match(r"v?(\d+)", version).group(1)) if re.match(r"v?(\d+)", version) else 0
    checks = [Check("node", version, major >= MIN_NODE_MAJOR, "" if major >= MIN_NODE_MAJOR else "install Node.js >= 18")]
    wanted = json.loads((REPO_ROOT / "package.json").read_text()).get("dependencies", {}) if (REPO_ROOT / "package.json").is_file() else {}
    for name in REQUIRED_PACKAGES + BROWSER_PACKAGES:
        manifest = node_modules() / name / "package.json"
        want = wanted.get(name)
        if not manifest.is_file():
            checks.append(Check(f"npm {name}", "missing", False, f"cd {REPO_ROOT} && npm ci"))
            continue
        have = json.loads(manifest.read_text()).get("version", "?")
        ok = want is None or have == want
        checks.append(Check(f"npm {name}", have + ("" if ok else f" (tested: {want})"), ok, "" if ok else f"cd {REPO_ROOT} && npm ci"))
    return checks


def chromium_check() -> Check:
    """The browser --browser verifies in."""
    from converter.backends.chromium.host import INSTALL_HINT, chromium_executable

    executable = chromium_executable()
    if executable is None:
        return Check("chromium", "missing", False, INSTALL_HINT)
    version = subprocess.run([executable, "--version"], capture_output=True, text=True).stdout.strip()
    return Check("chromium", version or executable, bool(version), "" if version else INSTALL_HINT)


def runtime_check() -> Check:
    """Start the Node host for real: the runtimes must initialise, not just exist."""
    from converter.backends.node.host import NodeHost
    from converter.errors import SrconvertError

    try:
        with NodeHost("wasm") as host:
            return Check("tfjs wasm backend", f"TensorFlow.js {host.versions.get('tfjs')} started", True)
    except SrconvertError as error:
        return Check("tfjs wasm backend", error.message, False, error.hint or "make setup")


def cpu_check() -> Check:
    """Informational: the int8 kernels onnxruntime uses here, so a user can
    tell which path a verified int8 artifact was checked on."""
    from converter.host_cpu import int8_path

    return Check("cpu int8 path", int8_path().describe(), True)


def run() -> list[Check]:
    checks = python_checks() + [pytorch_check()] + node_checks() + [chromium_check(), cpu_check()]
    if all(c.ok for c in checks if c.name.startswith(("node", "npm"))):
        checks.append(runtime_check())
    return checks


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for check in checks:
        lines.append(f"{'ok ' if check.ok else 'BAD'}  {check.name.ljust(width)}  {check.found}")
        if check.fix:
            lines.append(f"     {' ' * width}  fix: {check.fix}")
    return "\n".join(lines)
