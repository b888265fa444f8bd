"""The zoo's CI examples (recipes/ci/github-actions-zoo.yml,
kubernetes-zoo.yml and the zoo_weights.py they share), as far as a machine
without GitHub or a cluster allows: every srconvert command they run names
options srconvert has; the weights script fetches from a store, checks
hashes and fetches only a shard's files; the pod script, run as Kubernetes
runs it, builds its shard."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys

import yaml
from conftest import ROOT, run_cli

CI = ROOT / "recipes" / "ci"


def _scripts():
    """Every shell script in the two examples: GitHub steps' `run`, pods' `args`."""
    workflow = yaml.safe_load((CI / "github-actions-zoo.yml").read_text())
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                yield step["run"]
    for document in yaml.safe_load_all((CI / "kubernetes-zoo.yml").read_text()):
        for container in document["spec"]["template"]["spec"]["containers"]:
            yield from container["args"]


def _srconvert_commands():
    """(subcommand, words) of every `srconvert zoo ...` line, continuations joined."""
    for script in _scripts():
        for line in script.replace("\\\n", " ").splitlines():
            words = shlex.split(line.split("||")[0].split(">")[0])
            at = next((i for i, w in enumerate(words) if w.endswith("srconvert")), None)
            if at is not None and words[at + 1:at + 2] == ["zoo"]:
                yield words[at + 2], words


def test_every_srconvert_command_in_the_examples_exists():
    from converter.cli import cli

    commands = list(_srconvert_commands())
    assert {name for name, _ in commands} == {"plan", "build", "merge"}
    for name, words in commands:
        known = {o for p in cli.commands["zoo"].commands[name].params for o in getattr(p, "opts", [])}
        used = {w for w in words if w.startswith("-")}
        assert used <= known, (name, used - known)


def test_the_workflow_wires_plan_matrix_build_and_merge():
    workflow = yaml.safe_load((CI / "github-actions-zoo.yml").read_text())
    jobs = workflow["jobs"]
    assert jobs["build"]["needs"] == "plan" and jobs["merge"]["needs"] == "build"
    assert jobs["build"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert jobs["build"]["strategy"]["fail-fast"] is False
    cache = next(s for s in jobs["build"]["steps"] if s.get("uses", "").startswith("actions/cache"))
    assert cache["with"]["path"] == "zoo-cache"
    build = next(s["run"] for s in jobs["build"]["steps"] if "zoo build" in s.get("run", ""))
    assert "--cache zoo-cache" in build and '--shard "${{ matrix.shard }}"' in build


def _index(tmp_path, blobs):
    index, store = tmp_path / "index", tmp_path / "store"
    index.mkdir()
    store.mkdir()
    for entry_id, blob in blobs.items():
        digest = hashlib.sha256(blob).hexdigest()
        (store / digest).write_bytes(blob)
        entry = {"name": entry_id, "author": "a", "license": "CC0-1.0", "tags": [], "description": "d",
                 "architecture": "compact", "scale": 2, "inputChannels": 3, "outputChannels": 3,
                 "resources": [{"platform": "pytorch", "type": "pth", "size": len(blob), "sha256": digest,
                                "urls": ["https://x/y.pth"]}]}
        (index / f"{entry_id}.json").write_text(json.dumps(entry))
    return index, store


def _weights(*args, store):
    env = {**os.environ, "WEIGHTS_URL": store.as_uri(), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(CI / "zoo_weights.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env)


def test_the_weights_script_fetches_checks_and_takes_only_a_shards_files(tmp_path):
    index, store = _index(tmp_path, {f"2x-M{i}": bytes([i]) * (1000 + i) for i in range(4)})
    fetched = _weights(index, tmp_path / "all", store=store)
    assert fetched.returncode == 0 and "4 weights files" in fetched.stderr and "(4 fetched)" in fetched.stderr
    assert _weights(index, tmp_path / "all", store=store).stderr.count("(0 fetched)") == 1  # kept, re-hashed
    planned = run_cli("zoo", "plan", index, "--weights-dir", tmp_path / "all", "--shards", "2", "--json")
    (tmp_path / "plan.json").write_text(planned.stdout)
    plan = json.loads(planned.stdout)
    for shard in ("1/2", "2/2"):
        mine = _weights(index, tmp_path / shard[0], "--plan", tmp_path / "plan.json", "--shard", shard, store=store)
        assert mine.returncode == 0, mine.stderr
        assert sorted(p.name for p in (tmp_path / shard[0]).iterdir()) == sorted(
            e["weights"] for e in plan["entries"] if e["shard"] == shard)
    # A store that serves other bytes under a hash: refused, nothing left behind.
    victim = next(store.iterdir())
    victim.write_bytes(b"\xff" * victim.stat().st_size)
    bad = _weights(index, tmp_path / "fresh", store=store)
    assert bad.returncode != 0 and "is not the file its entry names" in bad.stderr
    assert not any(p.name.endswith(".partial") for p in (tmp_path / "fresh").iterdir())


def test_the_pod_script_builds_its_shard_as_kubernetes_runs_it(tmp_path):
    index, store = _index(tmp_path, {"2x-M0": b"\x00" * 1000})
    zoo = tmp_path / "zoo"
    (zoo / "weights").mkdir(parents=True)
    os.symlink(index, zoo / "index")
    assert _weights(index, zoo / "weights", store=store).returncode == 0
    plan = run_cli("zoo", "plan", zoo / "index", "--weights-dir", zoo / "weights", "--shards", "2", "--json")
    (zoo / "plan.json").write_text(plan.stdout)
    empty = next(e["shard"] for e in json.loads(plan.stdout)["matrix"]["include"]
                 if e["shard"] not in {x["shard"] for x in json.loads(plan.stdout)["entries"]})
    document = next(yaml.safe_load_all((CI / "kubernetes-zoo.yml").read_text()))
    script = document["spec"]["template"]["spec"]["containers"][0]["args"][0]
    script = re.sub(r"/zoo\b", str(zoo), script).replace(".venv/bin/srconvert", f"{sys.executable} -m converter")
    pod = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "SHARDS": "2", "JOB_COMPLETION_INDEX": str(int(empty[0]) - 1)})
    assert pod.returncode == 0, pod.stderr
    record = json.loads((zoo / "dist" / empty[0] / f"zoo-shard-{empty[0]}-of-2.json").read_text())
    assert record["shard"] == empty and record["models"] == {} and set(record["plan"]) == {"2x-M0"}
