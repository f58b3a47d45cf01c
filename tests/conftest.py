"""Shared fixtures: where the shared real data lives, and one local Ray per test module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tests talk only to loopback. Ray's usage-stats module probes cloud metadata endpoints
# (169.254.169.254, metadata.google.internal) over plain HTTP even when reporting is off; send
# plain-HTTP traffic to a closed loopback port instead. Loopback itself stays direct.
for _name in ("HTTP_PROXY", "http_proxy"):
    os.environ[_name] = "http://127.0.0.1:9"
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = "127.0.0.1,localhost,::1"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


def shared_data_dir() -> Path:
    """`../shared/data` beside the checkout, or $CC_CURATE_SHARED_DATA."""
    return Path(os.environ.get("CC_CURATE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


# The presets use FineWeb's URL lists from `cc-curate url-lists fetch`'s folder: point it at the
# shared copy, so every run in the tests uses the real lists and nothing is fetched.
if (shared_data_dir() / "fineweb_url_filter").is_dir():
    os.environ.setdefault("CC_CURATE_URL_LISTS", str(shared_data_dir() / "fineweb_url_filter"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"shared test data not found at {path}; set CC_CURATE_SHARED_DATA")
    return path


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray, on loopback, for the in-process runs of a module (CLI runs start their own)."""
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", logging_level="WARNING")
    yield
    ray.shutdown()
