"""Engines: outcomes as jobs finish, one-line errors, no engine options where they mean nothing; Ray (skipped
without it): an embedded instance started and stopped, retries when a worker process is killed mid-job."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bgsub.engines import LocalEngine, make_engine, one_line
from bgsub.errors import BgsubError


def _square(x):
    return x * x


def _fail(msg):
    raise ValueError(msg)


def test_local_engine_runs_jobs_in_order_and_turns_exceptions_into_one_line():
    started = []
    with make_engine("local") as eng:
        assert isinstance(eng, LocalEngine) and eng.workers == 1
        eng.submit("a", _square, 3)
        eng.submit("b", _fail, "bad\nthing")
        eng.submit("c", _square, x=4)
        assert started == []  # nothing runs before the results are asked for
        outs = list(eng.results(on_start=started.append))
    assert [(o.key, o.ok, o.value, o.error) for o in outs] == [
        ("a", True, 9, None), ("b", False, None, "ValueError: bad thing"), ("c", True, 16, None)]
    assert started == ["a", "b", "c"] and all(o.seconds >= 0 for o in outs)


def test_one_line_keeps_bgsub_messages_as_they_are():
    assert one_line(BgsubError("x.mp4: not a video")) == "x.mp4: not a video"
    assert one_line(RuntimeError()) == "RuntimeError: RuntimeError"


def test_local_engine_refuses_ray_options_and_unknown_engines_are_named():
    with pytest.raises(BgsubError, match="one video at a time"):
        make_engine("local", workers=2)
    with pytest.raises(BgsubError, match="needs --engine ray"):
        make_engine("local", address="auto")
    with pytest.raises(BgsubError, match="Ray resources"):
        make_engine("local", gpus_per_job=0.25)
    with pytest.raises(BgsubError, match="unknown engine 'dask'.*local, ray"):
        make_engine("dask")


def test_ray_missing_is_one_line_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(BgsubError, match=r"^--engine ray needs Ray, which is not installed here: "
                                         r"pip install 'bgsub\[ray\]'$"):
        make_engine("ray", workers=1)


def test_an_unreachable_ray_address_is_one_line_not_a_hang():
    import socket

    from bgsub.engines.ray import _check_reachable  # before ray.init, which retries such an address for minutes

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.time()
    with pytest.raises(BgsubError, match=rf"^127.0.0.1:{port}: cannot reach the Ray cluster's head node"):
        _check_reachable(f"127.0.0.1:{port}")
    assert time.time() - t0 < 10
    _check_reachable("auto")  # left to Ray


# ----------------------------------------------------------------------------------------------------------------
# Ray: the session's local instance of 2 CPUs (conftest.ray_engine), short timeouts, always shut down.

try:
    import ray
except ImportError:
    ray = None

needs_ray = pytest.mark.skipif(ray is None, reason="Ray not installed (pip install 'bgsub[ray]')")
if ray is not None:
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test's job functions travel by value


def _slow_first_attempt(flags: str, x: int) -> tuple[int, int]:
    """Record each attempt in ``flags``; the first one sleeps long enough to be killed."""
    d = Path(flags)
    n = len(list(d.glob("attempt-*")))
    (d / f"attempt-{n}-{os.getpid()}").touch()
    if n == 0:
        time.sleep(60)
    return x * x, os.getpid()


@needs_ray
def test_the_embedded_instance_has_workers_times_cpus_per_job(ray_engine):
    # ray_engine (conftest) started it with workers=2, cpus_per_job=1 and checks at the end that it stops it
    assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2 and ray_engine.workers == 2
    ray_engine.submit("k", pow, 2, 10)
    (o,) = list(ray_engine.results())
    assert o.ok and o.value == 1024


@needs_ray
def test_ray_engine_yields_outcomes_as_they_finish_with_one_line_errors(ray_engine):
    with make_engine("ray", retries=0) as eng:
        for i in range(3):
            eng.submit(i, _square, i)
        eng.submit("bad", _fail, "no\nway")
        outs = {o.key: o for o in eng.results()}
    assert {k: o.value for k, o in outs.items() if o.ok} == {0: 0, 1: 1, 2: 4}
    assert outs["bad"].error == "ValueError: no way"
    assert ray.is_initialized()  # an instance it did not start is left running


@needs_ray
@pytest.mark.parametrize("retries", [1, 0])
def test_ray_engine_survives_a_worker_killed_mid_job_by_a_retry(ray_engine, tmp_path, retries):
    with make_engine("ray", retries=retries) as eng:
        eng.submit("k", _slow_first_attempt, str(tmp_path), 7)
        deadline = time.time() + 30
        while not list(tmp_path.glob("attempt-0-*")):
            assert time.time() < deadline, "the job never started"
            time.sleep(0.1)
        victim = int(next(tmp_path.glob("attempt-0-*")).name.rsplit("-", 1)[1])
        os.kill(victim, signal.SIGKILL)  # the worker process dies mid-job
        (o,) = list(eng.results())
    if retries:
        assert o.ok and o.value[0] == 49 and o.value[1] != victim
        assert len(list(tmp_path.glob("attempt-*"))) == 2
    else:
        assert not o.ok and "worker running this job died (1 attempt)" in o.error and "\n" not in o.error
