"""`srconvert serve FOLDER`: a bundle's self-check page (check.html), served
over HTTP with the runtime libraries srconvert verified with.

The folder's own files are served as they are; check/libs/<package>/<file>,
which the page tries before its CDN, comes from the bundle when it was
written with --vendor-libs, else from srconvert's node_modules (only the
files parity.check_page.VENDORED names). 127.0.0.1 is a secure context, so
WebGPU and SubtleCrypto work there; another device reaching --host 0.0.0.0
over plain HTTP gets neither (the page then hashes files in JavaScript and
says WebGPU is unavailable).
"""

from __future__ import annotations

import functools
import http.server
import json
import socket
import sys
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from converter.bundle.manifest import MANIFEST_NAME
from converter.core.errors import BadInput

LIBS_URL = "/check/libs/"
TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
         ".json": "application/json", ".bin": "application/octet-stream", ".onnx": "application/octet-stream"}


def check_folder(folder: Path) -> dict:
    """The manifest of a folder whose check page can be served; BadInput otherwise."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise BadInput("is not a bundle (no manifest.json in it)", path=folder,
                       hint="serve the folder `srconvert convert -o` or `srconvert build -o` wrote")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"manifest.json cannot be read ({exc})", path=folder, hint="convert the source again") from None
    if not isinstance(document, dict) or not document.get("check_page") or not (folder / "check.html").is_file():
        raise BadInput("the bundle has no self-check page (check.html)", path=folder,
                       hint="convert it again without --no-check-page or --no-verify (the page needs the "
                            "source's outputs)")
    return document


def library_file(path: str) -> Path | None:
    """The node_modules file for a check/libs/ URL path, if the page may load it."""
    from converter.backends.node.host import node_modules
    from converter.parity.check_page import VENDORED

    local = path[len(LIBS_URL):]
    return node_modules() / local if local in VENDORED else None


class Handler(http.server.SimpleHTTPRequestHandler):
    """The folder's files; the page's libraries from node_modules when the
    folder has none of its own."""

    def translate_path(self, path: str) -> str:
        plain = unquote(urlsplit(path).path)
        served = super().translate_path(path)
        if plain.startswith(LIBS_URL) and not Path(served).is_file():
            found = library_file(plain)
            if found is not None and found.is_file():
                return str(found)
        return served

    def guess_type(self, path) -> str:
        return TYPES.get(Path(str(path)).suffix, None) or super().guess_type(path)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")  # a bundle converted again is re-read, not a stale copy run
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        if args and str(args[1] if len(args) > 1 else "").startswith(("4", "5")):
            super().log_message(format, *args)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True  # Ctrl-C does not wait for a browser's open connections

    def handle_error(self, request, client_address) -> None:
        """A browser that goes away mid-file (a closed tab, a cancelled
        fetch) is no error of the server's; anything else is one line, not
        socketserver's traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return
        print(f"warning: serving {client_address[0]}: {type(error).__name__}: {error}", file=sys.stderr)


def serve(folder: Path, host: str, port: int, say: Callable[[str], None]) -> None:
    """Serve until Ctrl-C (or SIGTERM); `say` prints a line."""
    check_folder(folder)
    handler = functools.partial(Handler, directory=str(folder.resolve()))
    try:
        server = Server((host, port), handler)
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                       hint="pass another --port (0 picks a free one)") from None
    _stop_on_signals()
    bound = server.server_address[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    say(f"serving {folder} at http://{shown}:{bound}/check.html  (Ctrl-C stops it)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: --host {host}: every device that reaches this machine can read {folder} (the model's "
            "weights, manifest and reports)")
        say(f"warning: a device opening http://{_lan_address()}:{bound}/check.html gets no WebGPU over plain "
            "HTTP (not a secure context; the file checks still run): serve it over HTTPS, or mark the origin "
            "secure in that browser's flags")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        server.server_close()


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop the server, even when it was started with
    SIGINT ignored (as a shell's background job, or under CI), where Python
    installs no KeyboardInterrupt of its own."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _lan_address() -> str:
    """This machine's address on its network, as another device would use it."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it only picks the outgoing interface
            return probe.getsockname()[0]
    except OSError:
        return "THIS-MACHINE"
