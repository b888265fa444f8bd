"""`srconvert doctor`: is everything srconvert runs on here, at the tested versions?

Each check says what it found and, when something is wrong, the command that
fixes it. Checks are required (the Python packages, Node.js, the Node packages
the Node runtimes load, the runtime start) or optional (Chromium and the
browser packages, only for --browser; the pytorch extra, only for
.pth/.safetensors sources; the CPU's int8 path, information). Exit 3
(environment problem) when a required check fails, 0 otherwise: an optional
component that is missing or at an untested version is shown, with what it is
needed for and its fix, but does not fail doctor (see `exit_code`).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from converter import targets
from converter.backends.chromium.host import BROWSER_PACKAGES
from converter.backends.node.host import REPO_ROOT, REQUIRED_PACKAGES, node_executable, node_modules
from converter.bundle.manifest import READING_LIBRARIES
from converter.core.errors import EXIT_ENVIRONMENT, EXIT_OK

MIN_NODE_MAJOR = 18
# The packages srconvert imports itself; the rest of constraints.txt follows them.
PYTHON_PACKAGES = tuple(dict.fromkeys((*READING_LIBRARIES, *targets.libraries(),
                                       "click", "pillow", "protobuf", "ydf", "setuptools")))
"""What srconvert reads, writes and verifies with (the manifest's libraries), and what they need."""
FOR_BROWSER = "--browser"
FOR_PYTORCH = ".pth/.safetensors sources"
FOR_NCNN = "--format ncnn"


@dataclass
class Check:
    name: str
    found: str
    ok: bool
    """Present and at the tested version (or working)."""
    fix: str = ""
    required: bool = True
    """False: only some uses need it (`needed_for`); failing it does not fail doctor."""
    needed_for: str = ""
    """An optional check: what needs it ("--browser"); empty for information."""
    missing: bool = False
    """Not installed at all (as opposed to installed at the wrong version, or broken)."""

    @property
    def status(self) -> str:
        """ok; BAD (a required check failing, or an optional component that is
        there but wrong); missing (an optional component that is not there)."""
        if self.ok:
            return "ok"
        return "missing" if self.missing and not self.required else "BAD"


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
            checks.append(Check(f"python {name}", "missing", False, fix, missing=True))
            continue
        ok = want is None or have == want
        checks.append(Check(f"python {name}", have + ("" if ok else f" (tested: {want})"), ok, "" if ok else fix))
    return checks


def pytorch_check(constraints: Path = REPO_ROOT / "constraints.txt") -> Check:
    """The optional pytorch extra: absent is fine (PyTorch checkpoints then
    stop with exit 3 and this fix), and shown as missing; present at an
    untested version is shown as BAD, without failing doctor."""
    from converter.core.errors import EnvironmentProblem
    from converter.sources.pytorch.families import INSTALL_HINT, import_spandrel

    optional = {"required": False, "needed_for": FOR_PYTORCH}
    try:
        import_spandrel()  # imported for real, as a conversion would: installed is not enough
    except EnvironmentProblem:
        return Check("pytorch extra", "not installed", False, INSTALL_HINT, missing=True, **optional)
    pins = _pins(constraints)
    found = {name: metadata.version(name) for name in ("torch", "spandrel")}
    off = [f"{name} {have} (tested: {pins[name]})" for name, have in found.items()
           if pins.get(name) and not have.startswith(pins[name])]
    text = ", ".join(f"{name} {have}" for name, have in found.items())
    return Check("pytorch extra", "; ".join(off) or text, not off, INSTALL_HINT if off else "", **optional)


def node_checks() -> list[Check]:
    node = node_executable()
    if node is None:
        return [Check("node", "missing", False, "apt-get install nodejs npm  (Node.js >= 18)", missing=True)]
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    major = int(re.match(r"v?(\d+)", version).group(1)) if re.match(r"v?(\d+)", version) else 0
    checks = [Check("node", version, major >= MIN_NODE_MAJOR, "" if major >= MIN_NODE_MAJOR else "install Node.js >= 18")]
    wanted = json.loads((REPO_ROOT / "package.json").read_text()).get("dependencies", {}) if (REPO_ROOT / "package.json").is_file() else {}
    fix = f"cd {REPO_ROOT} && npm ci"
    for name in REQUIRED_PACKAGES + BROWSER_PACKAGES:
        role = {} if name in REQUIRED_PACKAGES else {"required": False, "needed_for": FOR_BROWSER}
        manifest = node_modules() / name / "package.json"
        want = wanted.get(name)
        if not manifest.is_file():
            checks.append(Check(f"npm {name}", "missing" if not role else "not installed", False, fix, missing=True,
                                **role))
            continue
        have = json.loads(manifest.read_text()).get("version", "?")
        ok = want is None or have == want
        checks.append(Check(f"npm {name}", have + ("" if ok else f" (tested: {want})"), ok, "" if ok else fix, **role))
    return checks


def chromium_check() -> Check:
    """The browser --browser verifies in (optional)."""
    from converter.backends.chromium.host import INSTALL_HINT, chromium_executable

    optional = {"required": False, "needed_for": FOR_BROWSER}
    executable = chromium_executable()
    if executable is None:
        return Check("chromium", "not found", False, INSTALL_HINT, missing=True, **optional)
    version = subprocess.run([executable, "--version"], capture_output=True, text=True).stdout.strip()
    return Check("chromium", version or f"{executable} gives no version", bool(version),
                 "" if version else INSTALL_HINT, **optional)


def vulkan_check() -> Check:
    """The Vulkan device NCNN artifacts are verified on (optional): a GPU,
    or Mesa's lavapipe on the CPU."""
    from converter.backends.ncnn.runner import VULKAN_HINT
    from converter.core import tf_runtime

    optional = {"required": False, "needed_for": FOR_NCNN}
    tf_runtime.quiet()  # ncnn lists the devices on stderr as it finds them
    import ncnn

    if ncnn.get_gpu_count() == 0:
        return Check("vulkan (ncnn)", "no Vulkan device", False, VULKAN_HINT, missing=True, **optional)
    return Check("vulkan (ncnn)", ncnn.get_gpu_info(0).device_name(), True, **optional)


def upscayl_check() -> Check:
    """Upscayl's backend, which NCNN artifacts are verified in (optional)."""
    import os

    from converter.backends.upscayl.runner import binary

    optional = {"required": False, "needed_for": FOR_NCNN}
    path = binary()
    if not path.is_file():
        return Check("upscayl-bin", "not found", False, "npm ci (or make setup)", missing=True, **optional)
    if not os.access(path, os.X_OK):
        return Check("upscayl-bin", f"{path} is not executable", False, "make setup (or chmod +x it)", **optional)
    return Check("upscayl-bin", str(path), True, **optional)


def runtime_check() -> Check:
    """Start the Node host for real: the runtimes must initialise, not just exist."""
    from converter.backends.node.host import NodeHost
    from converter.core.errors import SrconvertError

    try:
        with NodeHost("wasm") as host:
            return Check("tfjs wasm backend", f"TensorFlow.js {host.versions.get('tfjs')} started", True)
    except SrconvertError as error:
        return Check("tfjs wasm backend", error.message, False, error.hint or "make setup")


def cpu_check() -> Check:
    """Informational: the int8 kernels onnxruntime uses here, so a user can
    tell which path a verified int8 artifact was checked on."""
    from converter.core.host_cpu import int8_path

    return Check("cpu int8 path", int8_path().describe(), True, required=False)


def run() -> list[Check]:
    checks = python_checks() + node_checks() + [chromium_check(), vulkan_check(), upscayl_check(), pytorch_check(),
                                                 cpu_check()]
    # The runtime start needs Node and the packages it loads, not the browser's.
    if all(c.ok for c in checks if c.required and c.name.startswith(("node", "npm"))):
        checks.append(runtime_check())
    return checks


def exit_code(checks: list[Check]) -> int:
    """EXIT_ENVIRONMENT (3) when a required check fails, else 0: optional
    components, missing or not, never fail doctor."""
    return EXIT_ENVIRONMENT if any(c.required and not c.ok for c in checks) else EXIT_OK


def render(checks: list[Check]) -> str:
    """Two groups, required then optional, a line per check (ok, BAD or
    missing) with its fix under it, and a last line summing up."""
    width = max(len(c.name) for c in checks)
    status_width = max(len(c.status) for c in checks)
    required = [c for c in checks if c.required]
    optional = [c for c in checks if not c.required]
    uses = list(dict.fromkeys(c.needed_for for c in optional if c.needed_for))
    lines = []
    for title, group in (("required", required),
                         (f"optional (only for: {', '.join(uses)})" if uses else "optional", optional)):
        if not group:
            continue
        lines.append(title)
        for check in group:
            found = check.found + (f" (needed for {check.needed_for})" if check.needed_for and not check.ok else "")
            lines.append(f"  {check.status.ljust(status_width)}  {check.name.ljust(width)}  {found}")
            if check.fix:
                lines.append(f"  {' ' * status_width}  {' ' * width}  fix: {check.fix}")
    lines.append(summary(checks))
    return "\n".join(lines)


def summary(checks: list[Check]) -> str:
    """One line: whether the required checks pass, and what optional is not right."""
    failing = [c.name for c in checks if c.required and not c.ok]
    if failing:
        head = f"{len(failing)} required check{' fails' if len(failing) == 1 else 's fail'}: {', '.join(failing)}"
    else:
        head = "all required checks pass"
    off: dict[tuple[str, str], list[str]] = {}  # (status, needed for) -> names, in order
    for check in checks:
        if not check.required and not check.ok:
            off.setdefault((check.status, check.needed_for), []).append(check.name)
    parts = [f"{', '.join(names)} {status}" + (f" (needed for {use})" if use else "")
             for (status, use), names in off.items()]
    return f"{head}; optional: {'; '.join(parts)}" if parts else f"{head}; all optional components present"
