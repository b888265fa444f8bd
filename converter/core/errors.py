"""The errors srconvert reports, and the exit code each one means.

Every error a user can cause or fix is one of these; the CLI prints it as one
or two lines (what, which file, what to do) and exits with its code. Anything
else is a bug and shows a traceback only under `--debug`.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_PARITY_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_NOT_VERIFIED = 4  # verify: the files match, but parity could not be re-run
EXIT_INTERNAL = 70  # a bug in srconvert (sysexits' EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl-C; SIGTERM and SIGHUP exit 128 + their number (143, 129)

EXIT_CODES_HELP = (
    "Exit codes: 0 every artifact passed parity (or --no-verify); 1 some artifact failed parity "
    "(each is named); 2 bad input or usage; 3 missing runtime or environment problem; "
    "4 verify: files match but parity was not re-run; 70 internal error (a bug: please report it "
    "with the --debug output); 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP (nothing written)."
)


class SrconvertError(Exception):
    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None,
                 details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.hint = hint
        self.details = details or {}
        """What `--json` prints beside the message (a failed run's results)."""

    def lines(self) -> list[str]:
        where = f"{self.path}: " if self.path is not None else ""
        lines = [f"error: {where}{self.message}"]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return lines


class BadInput(SrconvertError):
    """The source, an option or the output folder is wrong (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class ParityFailed(SrconvertError):
    """At least one artifact does not compute what the source computes (exit 1)."""

    exit_code = EXIT_PARITY_FAILED


class EnvironmentProblem(SrconvertError):
    """A runtime or package srconvert needs is missing or broken (exit 3)."""

    exit_code = EXIT_ENVIRONMENT


class Unsupported(Exception):
    """Something in a model that a mapper (an ONNX emitter or translation)
    does not cover. Not an error a user sees as such: the caller decides,
    falling back (the ONNX emitter to tf2onnx) or reporting it as the
    source's BadInput with what to do instead."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of a library's exception, for one-line messages (torch
    and onnxruntime put pages of context after it), cut at a word."""
    lines = str(exc).strip().splitlines()
    return _cut(lines[0] if lines else type(exc).__name__, limit)


def one_line(exc: BaseException, limit: int = 300) -> str:
    """A library's whole exception message on one line, cut at a word."""
    return _cut(" ".join(str(exc).split()) or type(exc).__name__, limit)


def _cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word (never mid-word) and
    marked with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if text[limit - 1] != " " and space > 0:  # the last word is cut: leave it out
        head = head[:space]
    return head.rstrip(" ,;:") + "…"
