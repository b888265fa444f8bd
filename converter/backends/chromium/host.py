"""The Python end of the browser host (host.cjs): one headless Chromium per
run, driven from Node by puppeteer-core, speaking the Node host's protocol."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from converter.backends.node.host import NodeHost, node_modules
from converter.core.errors import EnvironmentProblem

BROWSER_PACKAGES = ("puppeteer-core", "@tensorflow/tfjs-backend-webgpu", "upscaler")
INSTALL_HINT = "apt-get install chromium (make setup does it as root), or set SRCONVERT_CHROMIUM to a Chromium binary"


def chromium_executable() -> str | None:
    """SRCONVERT_CHROMIUM when set, else Chromium on PATH."""
    wanted = os.environ.get("SRCONVERT_CHROMIUM")
    if wanted:
        return shutil.which(wanted)
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


def check_chromium() -> str:
    executable = chromium_executable()
    if executable is None:
        raise EnvironmentProblem("Chromium is not installed; --browser runs parity in it", hint=INSTALL_HINT)
    missing = [name for name in BROWSER_PACKAGES if not (node_modules() / name / "package.json").is_file()]
    if missing:
        raise EnvironmentProblem(f"Node packages missing from {node_modules()}: {', '.join(missing)}",
                                 hint="run `npm ci` (or `make setup`)")
    return executable


class ChromiumHost(NodeHost):
    script = Path(__file__).with_name("host.cjs")
    title = "Chromium"

    def check(self) -> None:
        check_chromium()

    def init_fields(self) -> dict[str, Any]:
        return {"executable": check_chromium()}
