"""runtime/tasks.py, the one place Ray tasks start: results in call order, every call handed back
once with a bound in flight, a task's UserError raised as itself, OSError retried."""

from __future__ import annotations

import os
import time

import pytest

from cc_curate.errors import UserError
from cc_curate.runtime.tasks import TaskOptions, result, run_all, run_bounded

ONCE = TaskOptions(max_retries=0)


def _square_late_first(i: int, n: int) -> int:
    time.sleep(0.05 * (n - i))  # the first calls finish last
    return i * i


def _refuse(name: str) -> None:
    raise UserError(f"{name}: no such language")


def _flaky(marker: str) -> str:
    """Fails with OSError the first time (leaves a marker file), succeeds on the retry."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise OSError("connection reset")
    return "read"


def test_results_in_call_order(local_ray):
    calls = [(i, 5) for i in range(5)]
    assert run_all(_square_late_first, calls, ONCE) == [0, 1, 4, 9, 16]
    ordered = [(i, result(ref)) for i, ref in run_bounded(_square_late_first, calls, ONCE, 2, in_call_order=True)]
    assert ordered == [(i, i * i) for i in range(5)]
    finished = sorted((i, result(ref)) for i, ref in run_bounded(_square_late_first, calls, ONCE, 2))
    assert finished == ordered


def test_user_error_raised_as_itself(local_ray):
    """A bare ray.get raises a RayTaskError wrapping it (its message a traceback): this fails there."""
    with pytest.raises(UserError) as raised:
        run_all(_refuse, [("xyz_Latn",)], ONCE)
    assert type(raised.value) is UserError and str(raised.value) == "xyz_Latn: no such language"


def test_os_error_retried(local_ray, tmp_path):
    marker = str(tmp_path / "failed-once")
    assert run_all(_flaky, [(marker,)], TaskOptions(max_retries=1, retry_exceptions=(OSError,))) == ["read"]


def test_shard_tasks_reserve_what_the_recipe_stages_declare() -> None:
    """Fails if the driver ignores `Stage.resources` (the quality stage declares 512 MB)."""
    from cc_curate.recipe import recipe_from_dict
    from cc_curate.runtime.driver import shard_task_options

    plain = shard_task_options(recipe_from_dict({}))
    assert (plain.num_cpus, plain.memory, plain.num_gpus) == (1.0, None, 0.0)
    with_quality = recipe_from_dict({"stages": [*recipe_from_dict({}).settings["stages"], "quality"],
                                     "quality": {"models": {"edu": {"path": "model.bin"}}}})
    assert shard_task_options(with_quality).memory == 512 * 2**20
