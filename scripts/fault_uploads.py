#!/usr/bin/env python3
"""Fault runs of uploads against a real server (issue 7: reliability under load and faults).

kill-during-upload
    Several clients upload files of a few MB in a loop (some of them sending slowly) while the
    whole gunicorn process group is killed with SIGKILL, round after round: at a random moment,
    while a file is being written to .incoming, as a file lands in the store (before its row
    commits). The server is restarted on the same database and media folder each time. Then:
    no attachment row without its file (and every upload answered 201 is there, with its
    bytes); `manage.py cleanup_orphan_files` leaves young files alone by default, its dry run
    lists exactly the files without a row and deletes nothing, `--delete --min-age 0` removes
    them all; the restarted server still takes and serves uploads.

full-disk
    MEDIA_ROOT is a small tmpfs (8 MB; needs root to mount, else the scenario says so and
    exits 0 as skipped). Files are uploaded until the disk is full: every refusal must be the
    API's clear error (507, code `storage_failed`), never a 500; no partial file is left in
    .incoming or the store, no row without its file; after files are deleted, uploads work
    again. Two phases (--phases): `media-full`, the server's temporary directory elsewhere
    (only MEDIA_ROOT is full), and `disk-full`, TMPDIR on the same full disk too (Django spools
    uploads over 256 KB there before the application sees them), as on a server whose one disk
    is full.

    .venv/bin/python scripts/fault_uploads.py --scenario kill-during-upload
    .venv/bin/python scripts/fault_uploads.py --scenario full-disk
    .venv/bin/python scripts/stress.py --scenario kill-during-upload --database-url postgres://…

The throwaway installation (temporary folder, SQLite file or fresh PostgreSQL database,
gunicorn) is the one of scripts/stress.py; exit status 0 when every check passed.
"""

# Pseudo-random choices make the load; nothing here is a secret (S311). The subprocesses are
# the project's own programs and mount/umount (S603, S607).
# ruff: noqa: S311, S603, S607

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import secrets
import signal
import subprocess  # nosec B404  # runs our own programs
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

# The sibling script scripts/stress.py holds the throwaway installation and the HTTP client.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stress
from stress import API, HTTP_TIMEOUT, Http, Server, Stack, multipart, out, report, sha256

LISTED = re.compile(r"^  (attachments/\S+)  (\d+) bytes$", re.MULTILINE)


def setup(stack: Stack, requesters: int) -> tuple[str, list]:
    stack.manage("migrate", "--no-input", "-v", "0")
    password = secrets.token_urlsafe(16)
    created = stack.django(
        "setup_users", {"requesters": requesters, "technicians": 1, "password": password}
    )
    return password, created["requesters"]


def open_ticket(http: Http, token: str, title: str) -> int:
    response = http.call(
        "create",
        "POST",
        f"{API}/tickets/",
        token=token,
        json_body={"title": title, "description": "Проверка загрузки файлов при сбоях."},
    )
    if response.status != 201:
        raise RuntimeError(f"could not open a ticket: {response.brief()}")
    return response.json()["id"]


def upload(http: Http, token: str, ticket_id: int, name: str, content: bytes, **options):
    body, content_type = multipart([(name, content)])
    return http.call(
        "upload",
        "POST",
        f"{API}/tickets/{ticket_id}/attachments/",
        token=token,
        body=body,
        content_type=content_type,
        **options,
    )


def unique_text(base: bytes, label: str) -> bytes:
    return f"{label} {secrets.token_hex(8)}\n".encode() + base


# --- kill-during-upload -------------------------------------------------------------------


class Uploader(threading.Thread):
    """Uploads one file after another to its own ticket until told to stop. A slow uploader
    trickles its body in, so the server spends longer receiving it."""

    def __init__(self, index, port, token, ticket_id, base, slow, stop, acked, lock):
        super().__init__(name=f"uploader-{index}", daemon=True)
        self.index, self.token, self.ticket_id, self.base = index, token, ticket_id, base
        self.slow, self.stop, self.acked, self.lock = slow, stop, acked, lock
        self.http = Http(port)
        self.statuses: Counter = Counter()
        self.problems: list[str] = []
        self.number = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.number += 1
                content = unique_text(self.base, f"uploader {self.index} file {self.number}")
                response = upload(
                    self.http,
                    self.token,
                    self.ticket_id,
                    f"journal-{self.index}-{self.number}.log",
                    content,
                    chunk_delay=0.05 if self.slow else 0.0,
                )
                self.statuses[response.status] += 1
                if response.status == 201:
                    (attachment,) = response.json()
                    with self.lock:
                        self.acked[attachment["id"]] = sha256(content)
                elif response.status == 0:
                    # The server is gone: the kill. Wait for the run to say stop.
                    self.stop.wait(0.1)
                else:
                    self.problems.append(f"uploader {self.index}: {response.brief()}")
        except Exception:
            self.problems.append(f"uploader {self.index} crashed:\n{traceback.format_exc()}")
        finally:
            self.http.close()


# When to kill, round after round: at a random moment (most likely while a body is still being
# received), the moment a file is being written into .incoming, the moment a file has been
# moved into the store (its row may not be committed yet).
KILL_MOMENTS = ("random", "incoming", "stored")


def _stored_files(attachments: Path) -> set[str]:
    found = set()
    for directory, subdirectories, names in os.walk(attachments):
        subdirectories[:] = [d for d in subdirectories if d != ".incoming"]
        found.update(os.path.join(directory, name) for name in names)
    return found


def wait_for_moment(moment: str, stack: Stack, rng: random.Random, args) -> str:
    """Sleep until it is time to kill; says what the moment was."""
    if moment == "random":
        time.sleep(rng.uniform(args.min_delay, args.max_delay))
        return "at a random moment"
    attachments = stack.media / "attachments"
    incoming = attachments / ".incoming"
    time.sleep(args.min_delay)
    before = _stored_files(attachments)
    deadline = time.monotonic() + args.max_delay + 5
    while time.monotonic() < deadline:
        if moment == "incoming":
            with contextlib.suppress(FileNotFoundError):
                if any(entry.name.endswith(".part") for entry in os.scandir(incoming)):
                    return "while a file was being written to .incoming"
        elif _stored_files(attachments) - before:
            return "as a file landed in the store"
        time.sleep(0.002)
    return "at the time limit (the moment never came)"


def cleanup(stack: Stack, *args: str) -> tuple[str, dict[str, int]]:
    output = stack.manage("cleanup_orphan_files", *args)
    return output, {path: int(size) for path, size in LISTED.findall(output)}


def run_kill(args) -> int:
    rng = random.Random(args.seed)  # nosec B311  # load pattern, not a secret
    stack = Stack(database_url=args.database_url, keep=args.keep, label="kill")
    server = Server(stack, workers=args.workers)
    failures: list[str] = []
    try:
        out(
            f"Kill during uploads: {stack.vendor}, gunicorn {args.workers} workers, "
            f"{args.clients} uploaders of {args.file_mb} MB files, {args.rounds} SIGKILLs "
            f"(seed {args.seed}); work dir {stack.workdir}"
        )
        password, requesters = setup(stack, args.clients)
        server.start()
        http = Http(server.port)
        tokens = [stress.obtain_token(http, name, password)[0] for _pk, name in requesters]
        tickets = [open_ticket(http, token, "Журналы принтера") for token in tokens]
        http.close()
        base = stress.text_file(rng, int(args.file_mb * 1024 * 1024))
        acked: dict[int, str] = {}
        statuses: Counter = Counter()
        lock = threading.Lock()
        leftovers_after_kill = []
        for round_number in range(1, args.rounds + 1):
            stop = threading.Event()
            uploaders = [
                Uploader(i, server.port, tokens[i], tickets[i], base, i % 2 == 1, stop, acked, lock)
                for i in range(args.clients)
            ]
            for uploader in uploaders:
                uploader.start()
            moment = wait_for_moment(KILL_MOMENTS[(round_number - 1) % 3], stack, rng, args)
            server.kill()
            incoming = list((stack.media / "attachments" / ".incoming").glob("*"))
            leftovers_after_kill.append(len(incoming))
            stop.set()
            join_by = time.monotonic() + HTTP_TIMEOUT + 15
            for uploader in uploaders:
                uploader.join(max(0.0, join_by - time.monotonic()))
                if uploader.is_alive():
                    failures.append(f"uploader {uploader.index} did not stop in time")
                statuses.update(uploader.statuses)
                failures.extend(uploader.problems)
            out(
                f"round {round_number}: killed {moment}; uploads so far {dict(statuses)}, "
                f"files in .incoming after the kills so far: {len(incoming)}"
            )
            server.start()

        # 1. No row without its file, and every upload the server confirmed is there.
        files = stack.django("files")
        failures.extend(f"after the kills: {line}" for line in files["rows_without_file"])
        lost = sorted(i for i, digest in acked.items() if files["sha256"].get(str(i)) != digest)
        if lost:
            failures.append(f"uploads answered 201 but gone or changed after the restart: {lost}")
        leftovers = {*files["files_without_row"], *files["incoming"]}
        out(
            f"after {args.rounds} kills: {files['rows']} rows ({len(acked)} confirmed with 201), "
            f"{len(files['files_without_row'])} stored files without a row, "
            f"{len(files['incoming'])} files in .incoming"
        )

        # 2. cleanup_orphan_files: the grace period protects young files; the dry run lists
        #    exactly the leftovers and deletes nothing; --delete removes them.
        output, listed = cleanup(stack)
        if listed or (leftovers and f"Left alone {len(leftovers)} files" not in output):
            failures.append(f"default dry run should only leave young files alone:\n{output}")
        output, listed = cleanup(stack, "--min-age", "0")
        if set(listed) != leftovers:
            failures.append(
                f"dry run listed {sorted(listed)}, the files without a row are "
                f"{sorted(leftovers)}:\n{output}"
            )
        if leftovers and "Dry run: nothing was deleted" not in output:
            failures.append(f"dry run output:\n{output}")
        if stack.django("files")["files"] != files["files"]:
            failures.append("the dry run changed the files")
        output, _listed = cleanup(stack, "--delete", "--min-age", "0")
        if f"Deleted {len(leftovers)} orphan files" not in output:
            failures.append(f"--delete output:\n{output}")
        after = stack.django("files")
        for key in ("rows_without_file", "files_without_row", "incoming"):
            failures.extend(f"after the clean-up, {key}: {item}" for item in after[key])
        out(
            f"cleanup_orphan_files --delete --min-age 0: {len(leftovers)} files removed, "
            f"{after['files']} files for {after['rows']} rows remain"
        )

        # 3. The restarted server still takes and serves uploads.
        http = Http(server.port)
        content = unique_text(base[:100_000], "after the restart")
        response = upload(http, tokens[0], tickets[0], "after-restart.log", content)
        if response.status != 201:
            failures.append(f"upload after the restart: {response.brief()}")
        else:
            (attachment,) = response.json()
            download = http.call(
                "download",
                "GET",
                f"{API}/attachments/{attachment['id']}/download/",
                token=tokens[0],
            )
            if download.status != 200 or download.body != content:
                failures.append(f"download after the restart: {download.status}")
        http.close()
        server.stop()
        final = stack.django("files")
        failures.extend(f"at the end: {line}" for line in final["rows_without_file"])
        server_errors = {s: n for s, n in statuses.items() if s >= 500}
        if server_errors:
            failures.append(f"answers 5xx during the uploads: {server_errors}")
        failures.extend(f"server log: {line}" for line in stress.log_problems(stack, server))
        django_spool = list(stack.tmp.glob("*.upload*"))
        out(
            f"uploads: {dict(statuses)} (0 = cut by the kill); Django's spooled upload files "
            f"left in TMPDIR by the kills (outside MEDIA_ROOT, not the app's to clean): "
            f"{len(django_spool)}"
        )
    except Exception:
        failures.append("the run failed:\n" + traceback.format_exc())
    finally:
        server.stop()
        if failures and args.keep_on_failure:
            stack.keep = True
        stack.close()
    return report(failures)


# --- full-disk ----------------------------------------------------------------------------


def _mount_tmpfs(path: Path, megabytes: int) -> str:
    """'' when mounted, else why not."""
    if os.geteuid() != 0:
        return "not root"
    result = subprocess.run(  # nosec B603 B607  # fixed argv, no shell
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return "" if result.returncode == 0 else (result.stderr.strip() or f"exit {result.returncode}")


def _unmount(path: Path) -> None:
    for options in ([], ["-l"]):
        result = subprocess.run(  # nosec B603 B607  # fixed argv, no shell
            ["umount", *options, str(path)], capture_output=True, timeout=30, check=False
        )
        if result.returncode == 0:
            return
        time.sleep(1)
    out(f"warning: could not unmount {path}")


def _disk_use(path: Path) -> str:
    stats = os.statvfs(path)
    free = stats.f_bavail * stats.f_frsize / 1024 / 1024
    total = stats.f_blocks * stats.f_frsize / 1024 / 1024
    return f"{free:.1f} of {total:.1f} MB free"


def _partial_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def fill_the_disk(stack, server, token, ticket_id, args, label, failures) -> list[int]:
    """Upload full-size files until the disk refuses one, then ever smaller ones until even a
    small one is refused (the disk is full to the last few KB), then full-size and mid-size
    files again onto the full disk. Every answer must be 201 or the clear 507. Returns the
    ids of the stored attachments."""
    rng = random.Random(args.seed)  # nosec B311  # load pattern, not a secret
    http = Http(server.port)
    stored: list[int] = []
    answers: Counter = Counter()
    full = int(args.file_mb * 1024 * 1024)
    base = stress.text_file(rng, full)
    sizes = [full] * (int(args.disk_mb / args.file_mb) + 2)
    size = full // 2
    while size >= 16 * 1024:
        sizes += [size] * 3
        size //= 2
    sizes += [full, 512 * 1024, full]
    refused_small = False
    for number, size in enumerate(sizes, 1):
        if refused_small and number < len(sizes) - 2:
            continue  # full already: on to the last three
        content = unique_text(base[:size], label)
        response = upload(http, token, ticket_id, f"{label}-{number}.log", content)
        answers[response.status] += 1
        if response.status == 201:
            stored.append(response.json()[0]["id"])
        elif response.status == 507:
            refused_small = refused_small or size < full // 8
            error = response.json() or {}
            codes = [e.get("code") for e in error.get("errors", [])]
            if error.get("type") != "server_error" or codes != ["storage_failed"]:
                failures.append(f"{label}: 507 without the clear error: {response.brief()}")
            leftovers = _partial_files(stack.media / "attachments" / ".incoming")
            if leftovers:
                failures.append(f"{label}: partial files after a refused upload: {leftovers}")
        else:
            failures.append(
                f"{label}: upload {number} ({size} bytes, {_disk_use(stack.media)}) answered "
                f"{response.brief()}"
            )
    http.close()
    if not answers[507]:
        failures.append(f"{label}: the disk never filled up ({len(stored)} files stored)")
    out(f"{label}: uploads answered {dict(answers)}; {_disk_use(stack.media)}")
    return stored


def check_storage(stack: Stack, label: str, failures: list[str]) -> None:
    files = stack.django("files")
    for key in ("rows_without_file", "files_without_row", "incoming"):
        failures.extend(f"{label}, {key}: {item}" for item in files[key])
    spooled = _partial_files(Path(stack.env["TMPDIR"]))
    if spooled:
        failures.append(f"{label}: temporary upload files left in TMPDIR: {spooled}")


def run_full_disk(args) -> int:
    stack = Stack(database_url=args.database_url, keep=args.keep, label="disk")
    disk = stack.workdir / "disk"
    disk.mkdir()
    why_not = _mount_tmpfs(disk, args.disk_mb)
    if why_not:
        stack.close()
        out(f"skipped: cannot mount tmpfs ({why_not})")
        return 0
    server = None
    failures: list[str] = []
    try:
        stack.media = disk / "media"
        stack.media.mkdir()
        stack.env["MEDIA_ROOT"] = str(stack.media)
        out(
            f"Full disk: {stack.vendor}, MEDIA_ROOT on a {args.disk_mb} MB tmpfs, "
            f"{args.file_mb} MB files; work dir {stack.workdir}"
        )
        password, requesters = setup(stack, 1)
        spools = {
            "media-full": stack.tmp,  # Django spools large uploads to another disk
            "disk-full": disk / "tmp",  # ... or to the same, full one
        }
        for label in args.phases:
            spool = spools[label]
            spool.mkdir(exist_ok=True)
            stack.env["TMPDIR"] = str(spool)
            server = Server(stack, workers=args.workers)
            server.start()
            http = Http(server.port)
            token = stress.obtain_token(http, requesters[0][1], password)[0]
            ticket_id = open_ticket(http, token, f"Полный диск: {label}")
            stored = fill_the_disk(stack, server, token, ticket_id, args, label, failures)
            check_storage(stack, label, failures)
            # Room again: the uploader deletes the files, then uploads work again.
            for attachment_id in stored:
                response = http.call(
                    "delete_file", "DELETE", f"{API}/attachments/{attachment_id}/", token=token
                )
                if response.status != 204:
                    failures.append(f"{label}: delete {attachment_id}: {response.brief()}")
            response = upload(http, token, ticket_id, "after.log", b"room again\n")
            if response.status != 201:
                failures.append(f"{label}: upload after freeing space: {response.brief()}")
            http.close()
            server.stop()
            check_storage(stack, f"{label}, after freeing space", failures)
            # Django logs every 5xx answer as an error: the 507s are the expected ones.
            problems = stress.log_problems(stack, server, allowed=("Insufficient Storage: /api/",))
            failures.extend(f"server log: {line}" for line in problems)
            statuses, _times = server.access_statuses()
            out(f"{label}: answers {dict(sorted(statuses.items()))}")
            # Each phase's logs on their own, kept beside the others for a look afterwards.
            for log in [server.access_log, server.output, *stack.logs.glob("app.log*")]:
                if log.exists():
                    log.rename(stack.workdir / f"{label}-{log.name}")
    except Exception:
        failures.append("the run failed:\n" + traceback.format_exc())
    finally:
        if server is not None:
            server.stop()
        _unmount(disk)
        if failures and args.keep_on_failure:
            stack.keep = True
        stack.close()
    return report(failures)


# --- Command line ---------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=["kill-during-upload", "full-disk"], required=True)
    parser.add_argument("--database-url", default=None, help="as in scripts/stress.py")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4, help="uploaders (kill-during-upload)")
    parser.add_argument("--rounds", type=int, default=6, help="SIGKILLs (kill-during-upload)")
    parser.add_argument("--file-mb", type=float, default=None, help="size of the files")
    parser.add_argument("--min-delay", type=float, default=1.0, help="seconds before a kill, min")
    parser.add_argument("--max-delay", type=float, default=3.0, help="seconds before a kill, max")
    parser.add_argument("--disk-mb", type=int, default=8, help="size of the tmpfs (full-disk)")
    parser.add_argument(
        "--phases",
        type=lambda value: value.split(","),
        default=["media-full", "disk-full"],
        help="full-disk: media-full (only MEDIA_ROOT is full; TMPDIR elsewhere), disk-full "
        "(TMPDIR on the same full disk), or both, comma-separated (default both)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--keep-on-failure", action="store_true")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = secrets.randbelow(10**6)
    if args.file_mb is None:
        args.file_mb = 3.0 if args.scenario == "kill-during-upload" else 1.5
    if set(args.phases) - {"media-full", "disk-full"}:
        parser.error("--phases takes media-full, disk-full or both")
    if not 0 < args.min_delay <= args.max_delay or args.clients < 1 or args.rounds < 1:
        parser.error("bad --min-delay/--max-delay/--clients/--rounds")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.scenario == "kill-during-upload":
        return run_kill(args)
    return run_full_disk(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
