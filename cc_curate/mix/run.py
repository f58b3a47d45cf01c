"""The two entry points of ``cc-curate mix``: the mix itself and its dry run, each on its own Ray
(or the caller's)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator, Sequence, TextIO

import ray

from cc_curate.errors import UserError
from cc_curate.mix.budgets import MixSpec
from cc_curate.mix.card import estimate_rows, summarize, tau_chart, write_outputs
from cc_curate.mix.execution import CANDIDATES_LIMIT, MixRun, execute_mix, plan_mix
from cc_curate.output.storage import Storage
from cc_curate.redaction import redact
from cc_curate.runtime.tasks import in_flight_bound


@contextmanager
def _ray(workers: int | None, address: str | None) -> Iterator[None]:
    from cc_curate.runtime.driver import init_ray

    started = init_ray(workers, address)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def mix(releases: Sequence[str], output: str, spec: MixSpec, *, workers: int | None = None,
        address: str | None = None, command: str = "cc-curate mix", stream: TextIO = sys.stderr,
        candidates_limit: int = CANDIDATES_LIMIT) -> dict[str, Any]:
    """Write the mix to ``output`` (data/, mix.json, README.md); return mix.json's content."""
    if any(r.rstrip("/") == output.rstrip("/") for r in releases):
        raise UserError(f"{redact(output)}: the output folder is one of the inputs; choose a new folder")
    with _ray(workers, address):
        run = MixRun(list(releases), spec, output, in_flight_bound(workers), candidates_limit, stream)
        outcome = execute_mix(run)
    summary = summarize(outcome, command)
    write_outputs(Storage(output), summary)
    return summary


def estimate(releases: Sequence[str], spec: MixSpec, taus: Sequence[float | None], *, workers: int | None = None,
             address: str | None = None, chart: str | None = None,
             stream: TextIO = sys.stderr) -> tuple[MixSpec, list[dict[str, Any]]]:
    """The dry run: the spec (its unit decided) and per language, sizes, target, epochs and the
    expected mean score at each tau; with ``chart``, a PNG of the expected score distributions.
    Reads the releases, writes no data."""
    with _ray(workers, address):
        outcome, _ = plan_mix(MixRun(list(releases), spec, None, in_flight_bound(workers), stream=stream))
    if chart:
        if outcome.edges is None:
            raise UserError("--chart needs a score column (--score)")
        with open(chart, "wb") as fh:
            fh.write(tau_chart(outcome, [t for t in taus if t is not None]))
    return outcome.spec, estimate_rows(outcome, taus)
