"""The one place cc_curate starts Ray tasks: shard, dedup, publish and mix tasks all go through here.

A kind of task is a function plus its ``TaskOptions`` (CPUs, memory, retries). Two ways to run a
wave of calls: ``run_all`` starts every call and returns the results in call order (waves whose
size the caller already bounded: dedup partitions, publish ranks); ``run_bounded`` keeps at most
``max_in_flight`` calls started and yields each finished one (inputs without a bound: shards, mix
files). Large arguments shared by the calls of a wave go to the object store once (``share``).
A task that raised a ``UserError`` raises it on the driver as itself (one line), not wrapped.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import ray

from cc_curate.errors import UserError


@dataclass(frozen=True)
class TaskOptions:
    """How Ray runs one kind of task.

    ``retry_exceptions``: True retries a task on any exception it raises, a tuple of types only on
    those (a worker that dies is always retried), each up to ``max_retries`` times. ``memory``:
    bytes Ray reserves for each task (None: none reserved). ``num_gpus``: GPUs Ray places the task
    with (a stage that declares one, e.g. an encoder, lands on a GPU node; 0 runs anywhere).
    """

    max_retries: int
    retry_exceptions: bool | tuple[type[BaseException], ...] = True
    num_cpus: float = 1
    memory: int | None = None
    num_gpus: float = 0


@functools.lru_cache(maxsize=None)
def _remote(fn: Callable[..., Any], options: TaskOptions) -> Any:
    """The Ray remote function of ``fn``, made once per options (Ray exports it once)."""
    retry = options.retry_exceptions if isinstance(options.retry_exceptions, bool) else list(options.retry_exceptions)
    extra: dict[str, Any] = {} if options.memory is None else {"memory": options.memory}
    if options.num_gpus:
        extra["num_gpus"] = options.num_gpus
    return ray.remote(fn).options(num_cpus=options.num_cpus, max_retries=options.max_retries,
                                  retry_exceptions=retry, **extra)


def _sharer(share: Callable[[Any], bool] | None) -> Callable[[Any], Any]:
    """An argument as the task gets it: a shared one is put into the object store once (by identity)."""
    refs: dict[int, ray.ObjectRef] = {}

    def argument(value: Any) -> Any:
        if share is None or not share(value):
            return value
        if id(value) not in refs:
            refs[id(value)] = ray.put(value)
        return refs[id(value)]

    return argument


def result(ref: ray.ObjectRef) -> Any:
    """A finished task's value; a ``UserError`` it raised is raised as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, UserError):
            raise exc.cause from None
        raise


def run_all(fn: Callable[..., Any], calls: Sequence[tuple], options: TaskOptions, *,
            share: Callable[[Any], bool] | None = None) -> list[Any]:
    """``fn(*call)`` for every call, all started at once; the results in call order."""
    remote, argument = _remote(fn, options), _sharer(share)
    refs = [remote.remote(*(argument(a) for a in call)) for call in calls]
    return [result(ref) for ref in refs]


def run_bounded(fn: Callable[..., Any], calls: Sequence[tuple], options: TaskOptions, max_in_flight: int, *,
                in_call_order: bool = False, stagger_seconds: float = 0.0,
                share: Callable[[Any], bool] | None = None) -> Iterator[tuple[int, ray.ObjectRef]]:
    """Start ``fn(*call)`` with at most ``max_in_flight`` calls started and not yet handed back;
    yield ``(call index, ref)`` of each finished one (read it with ``result``), as they finish or,
    with ``in_call_order``, in call order (so that sums do not depend on which task finished first).

    ``stagger_seconds``: pause between the starts of the first wave, so that a thousand workers
    do not send their first requests in the same second (how an object store's throttling begins).
    """
    remote, argument = _remote(fn, options), _sharer(share)
    first_wave = min(max_in_flight, len(calls))
    pending: dict[ray.ObjectRef, int] = {}
    finished: dict[int, ray.ObjectRef] = {}
    submitted = handed = 0
    while handed < len(calls):
        while submitted < len(calls) and submitted - handed < max_in_flight:
            if 0 < submitted < first_wave:
                time.sleep(stagger_seconds)
            pending[remote.remote(*(argument(a) for a in calls[submitted]))] = submitted
            submitted += 1
        if in_call_order:
            while handed not in finished:
                ready, _ = ray.wait(list(pending), num_returns=1)
                finished[pending.pop(ready[0])] = ready[0]
            yield handed, finished.pop(handed)
        else:
            ready, _ = ray.wait(list(pending), num_returns=1)
            yield pending.pop(ready[0]), ready[0]
        handed += 1

def in_flight_bound(workers: int | None) -> int:
    """Tasks in flight: the worker count, or twice the cluster's CPUs (one queued per CPU)."""
    return workers or 2 * int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
