"""User errors through the real command: one line on stderr, exit 2, no traceback, no secret.

On the code before the fix (checked by reverting): `submit --env FOO` printed a ValueError
traceback; an error raised inside a Ray task read `not found: ray::map_documents() (pid=...)`
without the missing file; an input URL with a query string was refused as "cannot tell the
kind", echoed with its token.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .faults_helpers import cc_curate, write_preset


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cc-curate: "), stderr[-3000:]
    return lines[0]


def test_submit_env_without_equals_is_one_line(tmp_path: Path) -> None:
    result = cc_curate("submit", "--address", "http://127.0.0.1:9", "--env", "FOO", "--working-dir", str(tmp_path),
                       "recipes/fast.yaml", "-o", "out", check=False)
    assert result.returncode == 2
    assert one_line(result.stderr) == "cc-curate: --env FOO: expected KEY=VALUE"


def test_an_input_url_of_unknown_kind_is_named_without_its_secret(tmp_path: Path) -> None:
    result = cc_curate("run", "recipes/fast.yaml", "-o", str(tmp_path / "out"),
                       "-i", "https://reader:pw-1234@h.example/page.html?token=tok-5678", check=False)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "cannot tell the kind of input https://h.example/page.html?token=REDACTED" in line
    assert "pw-1234" not in line and "tok-5678" not in line


@pytest.mark.slow
def test_an_error_inside_a_ray_task_names_its_cause(tmp_path: Path) -> None:
    """A staged file removed between two runs: a task fails on it; the line names the file."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    text = " ".join(f"Sentence number {i} of a document that is long enough to be kept by the filters." for i in range(30))
    (inputs / "docs.jsonl").write_text(json.dumps({"id": "d1", "text": text}) + "\n")
    preset = write_preset(tmp_path / "recipe")
    out = tmp_path / "out"
    cc_curate("run", str(preset), "-o", str(out), "-i", str(inputs), "--workers", "1")
    staged = next(out.glob("_staging/*/*/rows.parquet"))
    staged.unlink()
    (out / "_ledger" / "_published.json").unlink()  # so that the re-run publishes again

    result = cc_curate("run", str(preset), "-o", str(out), "-i", str(inputs), "--workers", "1", check=False)
    assert result.returncode == 2, result.stderr[-3000:]
    line = _last_error(result.stderr)
    assert "ray::" not in line and "pid=" not in line
    assert str(staged.relative_to(out)) in line


def _last_error(stderr: str) -> str:
    """The command's own error line (Ray may log its task failures to stderr before it)."""
    errors = [line for line in stderr.splitlines() if line.startswith("cc-curate: ")]
    assert errors, stderr[-3000:]
    return errors[-1]
