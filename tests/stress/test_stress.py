"""Load and fault runs against a real gunicorn server (issue 7), as subprocesses: the scripts
scripts/stress.py and scripts/fault_uploads.py do the work and the checks and exit non-zero on
any failure; these tests run them on SQLite and, when a PostgreSQL server is configured
(STRESS_DATABASE_URL, else DATABASE_URL if it is postgres://), on PostgreSQL too.

Not part of `make test` (marker `stress`, excluded there): `make stress` runs them.
STRESS_SECONDS (default 10) and STRESS_CLIENTS (default 16) size the load runs,
STRESS_KILL_ROUNDS (default 6) the kills. The scripts' output is printed (pytest -s shows it).
PostgreSQL runs create and drop a database of their own beside the URL's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("STRESS_SECONDS", "10"))
CLIENTS = int(os.environ.get("STRESS_CLIENTS", "16"))
KILL_ROUNDS = int(os.environ.get("STRESS_KILL_ROUNDS", "6"))
SKIPPED_MOUNT = "skipped: cannot mount tmpfs"
# STRESS_KEEP_ON_FAILURE=1 keeps a failed run's temporary folder and database for a look.
KEEP = ["--keep-on-failure"] if os.environ.get("STRESS_KEEP_ON_FAILURE") == "1" else []

pytestmark = [pytest.mark.slow, pytest.mark.stress]


def postgres_url() -> str:
    for name in ("STRESS_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return ""


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request) -> list[str]:
    """The script's database option: a SQLite file of its own, or a fresh PostgreSQL database
    (named after the URL's database plus a random suffix, dropped at the end)."""
    if request.param == "sqlite":
        return []
    url = postgres_url()
    if not url:
        pytest.skip("no PostgreSQL: set STRESS_DATABASE_URL (or DATABASE_URL) to postgres://…")
    return ["--database-url", url]


def run_script(script: str, *args: str, timeout: float) -> str:
    """Run scripts/<script> with the project's Python; fail with its output unless it exits 0.
    On a timeout the script gets SIGTERM first, so that it stops its server and cleans up."""
    process = subprocess.Popen(  # noqa: S603 - the project's own script
        [sys.executable, str(ROOT / "scripts" / script), *KEEP, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        pytest.fail(f"{script} {' '.join(args)} ran over {timeout} s:\n{output[-20000:]}")
    print(output)
    assert process.returncode == 0, f"{script} {' '.join(args)} failed:\n{output[-20000:]}"
    return output


def test_the_whole_workflow_under_concurrent_clients(database):
    output = run_script(
        "stress.py",
        "--clients",
        str(CLIENTS),
        "--seconds",
        str(SECONDS),
        *database,
        timeout=SECONDS + 600,
    )
    assert "OK: every check passed" in output


def test_a_server_killed_during_uploads_leaves_no_row_without_its_file(database):
    output = run_script(
        "fault_uploads.py",
        "--scenario",
        "kill-during-upload",
        "--rounds",
        str(KILL_ROUNDS),
        *database,
        timeout=600,
    )
    assert "OK: every check passed" in output


@pytest.mark.parametrize(
    "phase",
    [
        "media-full",  # only MEDIA_ROOT is full
        "disk-full",  # the server's temporary directory is on the same full disk
    ],
)
def test_a_full_disk_refuses_uploads_clearly_and_leaves_no_partial_file(database, phase):
    output = run_script(
        "fault_uploads.py", "--scenario", "full-disk", "--phases", phase, *database, timeout=600
    )
    if SKIPPED_MOUNT in output:
        pytest.skip(output.strip().splitlines()[-1])
    assert "OK: every check passed" in output
