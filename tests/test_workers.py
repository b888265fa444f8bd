"""Warm worker processes (release.workers, issue 30): one process per job
slot builds release after release; a failed or dead one is replaced, and
each release starts from the state a fresh process would give it."""

from __future__ import annotations

import os

from converter.release import workers


def _pid(tag: str) -> tuple[str, int]:
    return tag, os.getpid()


def _fail_or_pid(tag: str) -> tuple[str, int]:
    return ("failed" if tag.startswith("bad") else tag), os.getpid()


def _die_or_pid(tag: str) -> tuple[str, int]:
    if tag == "die":
        os._exit(2)  # as the memory guard ends a worker
    return tag, os.getpid()


def _layer_names(_: str) -> list[str]:
    """Auto-named layers, whose names count every layer built before in the process."""
    from converter.core import tf_runtime

    keras = tf_runtime.tf_keras()
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(3)(inputs)))
    return [layer.name for layer in model.layers]


def _calls(*tags: str) -> list[tuple[tuple, dict]]:
    return [((tag,), {}) for tag in tags]


def test_a_slot_keeps_its_process_across_calls():
    results = workers.run(_pid, _calls(*"abcdef"), 2, healthy=lambda r: True, died=lambda i: None)
    assert [tag for tag, _ in results] == list("abcdef")  # in call order
    assert len({pid for _, pid in results}) <= 2
    assert os.getpid() not in {pid for _, pid in results}


def test_a_failed_call_gets_a_new_process_for_the_next():
    results = workers.run(_fail_or_pid, _calls("a", "bad", "c", "d"), 1, healthy=lambda r: r[0] != "failed",
                          died=lambda i: None)
    pids = [pid for _, pid in results]
    assert pids[0] == pids[1]  # the failure ran where "a" had
    assert pids[2] != pids[1]  # and its process took no more work
    assert pids[3] == pids[2]


def test_a_dead_worker_fails_only_its_own_call():
    results = workers.run(_die_or_pid, _calls("a", "die", "c", "d"), 1, healthy=lambda r: True,
                          died=lambda i: ("died", i))
    assert results[1] == ("died", 1)
    assert [r[0] for r in results] == ["a", "died", "c", "d"]
    assert results[2][1] != results[0][1]


def test_each_call_starts_from_fresh_keras_state():
    """Without the reset, the second model's layers would be dense_2, dense_3:
    a rebuilt release's bytes would depend on what the worker built before."""
    first, second = workers.run(_layer_names, _calls("x", "y"), 1, healthy=lambda r: True, died=lambda i: None)
    assert first == second
    assert sorted(first[1:]) == ["dense", "dense_1"]
