"""`srconvert doctor`: required checks decide the exit code, optional ones
(Chromium, the browser packages, the pytorch extra) are shown but never fail it."""

from __future__ import annotations

import json
from dataclasses import asdict

from conftest import run_cli

from converter.backends.chromium import host as chromium_host
from converter.backends.chromium.host import BROWSER_PACKAGES
from converter.backends.node.host import REQUIRED_PACKAGES
from converter.commands import doctor
from converter.core.errors import EXIT_ENVIRONMENT


def _by_name(checks):
    return {c.name: c for c in checks}


def _group(text: str, title: str) -> list[str]:
    """The lines of one group of the rendering, headed by `title`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return lines[start + 1 : end]


def _line(group: list[str], name: str) -> str:
    return next(line for line in group if f"  {name}  " in line)


def test_everything_passes_here_and_each_check_says_whether_it_is_required():
    checks = doctor.run()
    assert doctor.exit_code(checks) == 0
    by_name = _by_name(checks)
    required = {f"python {n}" for n in doctor.PYTHON_PACKAGES} | {f"npm {n}" for n in REQUIRED_PACKAGES}
    required |= {"node", "tfjs wasm backend"}
    optional = {"chromium", "vulkan (ncnn)", "upscayl-bin", "pytorch extra", "cpu int8 path"}
    optional |= {f"npm {n}" for n in BROWSER_PACKAGES}
    assert set(by_name) == required | optional
    assert all(by_name[name].required for name in required)
    assert not any(by_name[name].required for name in optional)
    assert by_name["chromium"].needed_for == "--browser"
    assert by_name["pytorch extra"].needed_for == ".pth/.safetensors sources"
    assert by_name["vulkan (ncnn)"].needed_for == by_name["upscayl-bin"].needed_for == "--format ncnn"
    text = doctor.render(checks)
    assert "BAD" not in text and "missing" not in text
    assert "optional (only for: --browser, --format ncnn, .pth/.safetensors sources)" in text
    assert text.splitlines()[-1] == "all required checks pass; all optional components present"
    assert all("required" in entry for entry in (asdict(c) for c in checks))


def test_a_missing_chromium_is_shown_as_missing_and_optional_and_doctor_passes(monkeypatch):
    monkeypatch.setattr(chromium_host, "chromium_executable", lambda: None)
    checks = doctor.run()
    chromium = _by_name(checks)["chromium"]
    assert (chromium.ok, chromium.missing, chromium.required, chromium.status) == (False, True, False, "missing")
    assert doctor.exit_code(checks) == 0
    text = doctor.render(checks)
    line = _line(_group(text, "optional"), "chromium")
    assert line.split()[0] == "missing" and "needed for --browser" in line
    assert not any("chromium" in line for line in _group(text, "required"))
    assert "fix: " + chromium_host.INSTALL_HINT in text
    assert text.splitlines()[-1] == "all required checks pass; optional: chromium missing (needed for --browser)"


def test_the_chromium_variable_naming_no_binary_is_a_missing_chromium(monkeypatch, tmp_path):
    monkeypatch.setenv("SRCONVERT_CHROMIUM", str(tmp_path / "no-such-chromium"))
    check = doctor.chromium_check()
    assert check.status == "missing" and not check.required
    assert doctor.exit_code([check]) == 0


def test_missing_node_packages_fail_the_required_ones_and_show_the_browser_ones_as_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("SRCONVERT_NODE_MODULES", str(tmp_path))  # read by node_modules() on each call
    checks = doctor.run()
    assert doctor.exit_code(checks) == EXIT_ENVIRONMENT == 3
    by_name = _by_name(checks)
    assert "tfjs wasm backend" not in by_name  # nothing to start it with
    text = doctor.render(checks)
    required, optional = _group(text, "required"), _group(text, "optional")
    for name in REQUIRED_PACKAGES:
        assert _line(required, f"npm {name}").split()[0] == "BAD"
    for name in BROWSER_PACKAGES:
        assert _line(optional, f"npm {name}").split()[0] == "missing"
    assert "npm ci" in text
    assert text.splitlines()[-1].startswith(f"{len(REQUIRED_PACKAGES)} required checks fail: npm @tensorflow/tfjs")


def test_an_optional_component_at_an_untested_version_is_bad_but_does_not_fail_doctor():
    checks = [
        doctor.Check("python numpy", "2.1.3", True),
        doctor.Check("pytorch extra", "torch 1.0 (tested: 2.13.0)", False, "pip install ...", required=False,
                     needed_for=".pth/.safetensors sources"),
        doctor.Check("cpu int8 path", "x86-64", True, required=False),
    ]
    assert doctor.exit_code(checks) == 0
    text = doctor.render(checks)
    assert _line(_group(text, "optional"), "pytorch extra").split()[0] == "BAD"
    assert text.splitlines()[-1] == ("all required checks pass; optional: pytorch extra BAD "
                                     "(needed for .pth/.safetensors sources)")
    checks[0] = doctor.Check("python numpy", "1.0 (tested: 2.1.3)", False, "make setup")
    assert doctor.exit_code(checks) == 3
    assert doctor.render(checks).splitlines()[-1].startswith("1 required check fails: python numpy; optional:")


def test_the_cli_renders_both_groups_and_the_json_says_which_checks_are_required():
    result = run_cli("doctor")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert "required" in lines and any(line.startswith("optional (only for: ") for line in lines)
    assert lines[-1].startswith("all required checks pass")
    as_json = run_cli("doctor", "--json")
    entries = {entry["name"]: entry for entry in json.loads(as_json.stdout)}
    assert entries["node"]["required"] and not entries["chromium"]["required"]


def test_the_cli_shows_a_missing_chromium_as_optional(tmp_path):
    result = run_cli("doctor", env={"SRCONVERT_CHROMIUM": str(tmp_path / "no-such-chromium")})
    assert "Traceback" not in result.stderr
    last = result.stdout.splitlines()[-1]
    assert last == "all required checks pass; optional: chromium missing (needed for --browser)"
    assert result.returncode == 0, result.stdout  # the cli exits with doctor.exit_code()


def test_the_cli_exits_3_when_a_required_node_package_is_missing(tmp_path):
    result = run_cli("doctor", env={"SRCONVERT_NODE_MODULES": str(tmp_path)})
    assert result.returncode == EXIT_ENVIRONMENT, result.stdout
    assert result.stdout.splitlines()[-1].startswith(f"{len(REQUIRED_PACKAGES)} required checks fail")
