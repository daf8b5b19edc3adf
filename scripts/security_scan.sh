#!/usr/bin/env bash
# Dependency and code scanning (issue 7): bandit on our code, pip-audit on the pinned Python
# packages, npm audit on the front-end packages. What each scan covers, its current result and
# every accepted exception with its reason: docs/security-scans.md.
#
#   scripts/security_scan.sh                  # all three; or: make audit
#   scripts/security_scan.sh bandit pip       # some of them (bandit, pip, npm)
#   AUDIT_UNAVAILABLE_OK=1 scripts/security_scan.sh
#
# Every scan runs, then the script exits non-zero if any of them has a finding that is not an
# accepted exception, or could not run. A scan whose advisory service cannot be reached fails
# with a message saying so, never as "no vulnerabilities" - unless AUDIT_UNAVAILABLE_OK=1, which
# reports it as NOT AUDITED and goes on (findings still fail). Network calls are time-boxed:
# AUDIT_HTTP_TIMEOUT seconds per request (default 20), a few minutes per scan at most.

# shellcheck disable=SC2317  # the *_scan functions are called indirectly, as "${scan}_scan"
set -Eeuo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
PY=$BIN/python
HTTP_TIMEOUT=${AUDIT_HTTP_TIMEOUT:-20}
UNAVAILABLE_OK=${AUDIT_UNAVAILABLE_OK:-0}

# --- Accepted exceptions: each one has its reason in docs/security-scans.md -------------------
# bandit: a `# nosec BXXX` on the line itself (docs/security-scans.md lists them all).
# pip-audit: vulnerability ids (PYSEC-..., GHSA-..., CVE-...) accepted for now.
PIP_AUDIT_IGNORE=()
# Packages that PyPI's project-level advisories cannot vouch for because the version installed
# is not the latest release (only used when PyPI's per-release JSON API is blocked; see below).
PYPI_UNAUDITABLE_OK=(jsonschema-rs)
# npm audit: none (npm has no ignore list; an exception would be handled here).

BANDIT_TARGETS=(accounts tickets techticket bench scripts)
# Whole tests skipped in one file, as ruff's per-file-ignores in pyproject.toml do: the search
# module builds its SQL from module constants only (table, trigger and function names); every
# user-supplied value is a bound parameter (docs/security-scans.md).
BANDIT_FILE_SKIPS=("tickets/search.py:B608,B610,B611")
# A package that stays on PyPI with known, never-fixed advisories on its latest release: if
# PyPI's answer for it lists none, the feed is not passing advisories through.
PYPI_CANARY=pycrypto

step() { printf '\n=== %s ===\n' "$*"; }
note() { printf '%s\n' "$*"; }

workdir=$(mktemp -d "${TMPDIR:-/tmp}/techticket-audit.XXXXXX")
trap 'rm -rf "$workdir"' EXIT
trap 'exit 130' INT TERM

for tool in "$PY" "$BIN/bandit" "$BIN/pip-audit"; do
  if [ ! -x "$tool" ]; then
    note "security_scan: $tool is missing; run 'make install-dev' first." >&2
    exit 2
  fi
done

# Helper for the Python side, run by the project's interpreter (packaging comes with the venv).
#   closure REQ...                  write name==version of every pinned requirement and of
#                                   everything it needs, as installed; fail on a pin mismatch
#   probe NAME VERSION              "per-release" (PyPI's per-release JSON API answers), "project"
#                                   (only the project-level one does), exit 2 if unreachable
#   advisories FILE IGNORE OK       audit FILE against PyPI's project-level JSON (see pip_scan)
read -r -d '' PYPI_HELPER <<'PY' || true
import json
import os
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

JSON_API = "https://pypi.org/pypi"  # PyPI's JSON API, as pip-audit's PyPI service uses it
TIMEOUT = float(sys.argv[1])
COMMAND, ARGS = sys.argv[2], sys.argv[3:]


def get_json(url):
    """(status, parsed body or None, error text or None); two tries on network errors."""
    error = None
    for _ in range(2):
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
                return response.status, json.load(response), None
        except urllib.error.HTTPError as http_error:
            return http_error.code, None, f"HTTP {http_error.code} from {url}"
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            error = f"{url}: {getattr(exc, 'reason', exc)}"
    return None, None, error


def pinned(path):
    for raw in open(path, encoding="utf-8"):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            yield from pinned(os.path.join(os.path.dirname(path), line.split(None, 1)[1]))
        else:
            yield Requirement(line)


def closure(files):
    installed = {}
    for dist in metadata.distributions():
        installed.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    problems, todo = [], []
    for req in (r for f in files for r in pinned(f)):
        dist = installed.get(canonicalize_name(req.name))
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            problems.append(f"{req}: not pinned with ==")
        if dist is None:
            problems.append(f"{req}: not installed")
        elif not req.specifier.contains(dist.version, prereleases=True):
            problems.append(f"{req}: {dist.version} is installed")
        todo.append(req)
    extras_of = {}
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        dist = installed.get(name)
        if dist is None or (name in extras_of and set(req.extras) <= extras_of[name]):
            continue
        extras = extras_of[name] = extras_of.get(name, set()) | set(req.extras)
        for sub in map(Requirement, dist.requires or []):
            if sub.marker and not any(sub.marker.evaluate({"extra": e}) for e in extras | {""}):
                continue
            if canonicalize_name(sub.name) not in installed:
                problems.append(f"{sub} (needed by {dist.metadata['Name']}): not installed")
            todo.append(sub)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    if problems:
        sys.exit("The virtual environment does not match the requirements: run 'make install-dev'.")
    stray = sorted(set(installed) - set(extras_of))
    if stray:
        print(f"Installed but not required (not audited): {', '.join(stray)}")
    for name in sorted(extras_of):
        print(f"{name}=={installed[name].version}")


def probe(name, version):
    status, _, error = get_json(f"{JSON_API}/{name}/{version}/json")
    if status == 200:
        print("per-release")
        return
    if status == 404:
        status, _, error = get_json(f"{JSON_API}/{name}/json")
        if status == 200:
            print("project")
            return
    print(f"PyPI is unreachable or answers wrongly: {error}", file=sys.stderr)
    sys.exit(2)


def advisories(path, ignore, unauditable_ok):
    ignore = set(filter(None, ignore.split(",")))
    unauditable_ok = set(filter(None, unauditable_ok.split(",")))
    pins = [line.strip().split("==") for line in open(path, encoding="utf-8") if "==" in line]

    status, canary, error = get_json(f"{JSON_API}/{CANARY}/json")
    if status != 200 or not (canary or {}).get("vulnerabilities"):
        print(
            f"PyPI's JSON API gives no advisories for {CANARY}, which has some: "
            f"the feed is not usable here ({error or 'empty vulnerabilities field'}).",
            file=sys.stderr,
        )
        sys.exit(2)

    def fetch(pin):
        name, version = pin
        return name, version, *get_json(f"{JSON_API}/{name}/json")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(fetch, pins))
    found, unaudited, unreachable, ignored, audited = [], [], [], 0, 0
    for name, version, status, data, error in answers:
        if data is None and status != 404:
            unreachable.append(f"{name}=={version}: {error}")
            continue
        why = "not on PyPI" if data is None else f"latest release is {data['info']['version']}"
        if data is None or Version(version) != Version(data["info"]["version"]):
            if name in unauditable_ok:
                print(f"  accepted, not audited: {name}=={version} ({why})")
            else:
                unaudited.append(f"{name}=={version} ({why})")
            continue
        audited += 1
        for vuln in data.get("vulnerabilities") or []:
            if vuln.get("withdrawn"):
                continue
            ids = {vuln["id"], *vuln.get("aliases", [])}
            if ids & ignore:
                ignored += 1
                continue
            fixed = ", ".join(vuln.get("fixed_in") or []) or "no fix"
            text = (vuln.get("summary") or vuln.get("details") or "").replace("\n", " ")
            found.append(f"{name}=={version} {vuln['id']} (fixed in: {fixed}) {text[:160]}")
    print(f"{audited} of {len(pins)} packages audited, {ignored} accepted vulnerabilities ignored.")
    for line in found:
        print(f"  VULNERABLE {line}")
    for line in unaudited:
        print(f"  NOT AUDITED {line}")
    if unreachable:
        for line in unreachable:
            print(f"  UNREACHABLE {line}", file=sys.stderr)
        sys.exit(2)
    if found or unaudited:
        sys.exit(1)
    print("No known vulnerabilities found.")


CANARY = "pycrypto"
if COMMAND == "closure":
    closure(ARGS)
elif COMMAND == "probe":
    probe(*ARGS)
elif COMMAND == "advisories":
    CANARY = ARGS[3]
    advisories(*ARGS[:3])
else:
    sys.exit(f"unknown command {COMMAND}")
PY

PYPI_HELPER_CMD=("$PY" -c "$PYPI_HELPER" "$HTTP_TIMEOUT")
join_by_comma() { local IFS=,; printf '%s' "$*"; }

# Each scan returns 0 (clean), 1 (findings or an error) or 2 (its service is unavailable).

bandit_scan() {
  local rc=0 rc_file=0 entry file skips excluded=()
  for entry in "${BANDIT_FILE_SKIPS[@]}"; do excluded+=("${entry%%:*}"); done
  "$BIN/bandit" -c pyproject.toml -r "${BANDIT_TARGETS[@]}" -x "$(join_by_comma "${excluded[@]}")" \
    --severity-level low --confidence-level low -f txt -o "$workdir/bandit.txt" \
    >/dev/null 2>"$workdir/bandit.err" || rc=$?
  for entry in "${BANDIT_FILE_SKIPS[@]}"; do
    file=${entry%%:*} skips=${entry#*:}
    "$BIN/bandit" -c pyproject.toml "$file" -s "$skips" \
      --severity-level low --confidence-level low -f txt -o "$workdir/bandit-file.txt" \
      >/dev/null 2>>"$workdir/bandit.err" || rc_file=$?
    cat "$workdir/bandit-file.txt" >>"$workdir/bandit.txt"
    [ "$rc_file" -le "$rc" ] || rc=$rc_file
  done
  # Its log, less the INFO lines and the "nosec encountered (BXXX), but no failed test"
  # warnings (noise: it checks every AST node on a line that carries a nosec).
  grep -v -E '\sINFO\s|nosec encountered \(B[0-9]+\), but no failed test' \
    "$workdir/bandit.err" >&2 || true
  cat "$workdir/bandit.txt"
  case $rc in
    0) return 0 ;;
    1) note "bandit: findings above; fix them, or accept one with '# nosec BXXX' on its line" \
         "and its reason in docs/security-scans.md."; return 1 ;;
    *) note "bandit failed to run (exit $rc)."; return 1 ;;
  esac
}

pip_scan() {
  local rc=0 mode audit_version
  "${PYPI_HELPER_CMD[@]}" closure requirements-dev.txt >"$workdir/pins.txt" || return 1
  grep -v '==' "$workdir/pins.txt" || true
  grep '==' "$workdir/pins.txt" >"$workdir/closure.txt"
  note "$(wc -l <"$workdir/closure.txt") packages: requirements-dev.txt (with requirements.txt)" \
    "and everything they need, as installed in .venv."

  audit_version=$("$BIN/pip-audit" --version | awk '{print $2}')
  mode=$(timeout -k 10 $((HTTP_TIMEOUT * 5)) "${PYPI_HELPER_CMD[@]}" probe pip-audit \
    "$audit_version") || {
    note "pip-audit: PyPI cannot be reached, so nothing was audited."
    return 2
  }

  if [ "$mode" = per-release ]; then
    # The standard way: pip-audit, PyPI's vulnerability service, exactly the pinned closure (no
    # resolver, no throwaway virtual environment). --strict: a package it cannot look up is an
    # error, not a silent skip.
    local ignore_args=()
    for id in "${PIP_AUDIT_IGNORE[@]}"; do ignore_args+=(--ignore-vuln "$id"); done
    timeout -k 10 600 "$BIN/pip-audit" --vulnerability-service pypi --strict \
      --no-deps --disable-pip -r "$workdir/closure.txt" "${ignore_args[@]}" \
      --timeout "$HTTP_TIMEOUT" --progress-spinner off >"$workdir/pip-audit.txt" 2>&1 || rc=$?
    grep -v -E 'no-deps is supported, but users are encouraged|Consider using a tool like' \
      "$workdir/pip-audit.txt" || true
    case $rc in
      0) return 0 ;;
      124 | 137) note "pip-audit: timed out after 600 s."; return 2 ;;
      *) return 1 ;;
    esac
  fi

  # PyPI answers /pypi/NAME/json but not /pypi/NAME/VERSION/json (so on this workplace's
  # machines and CI): pip-audit would skip every package ("Dependency not found on PyPI") and,
  # without --strict, report "No known vulnerabilities found". The project-level JSON carries
  # the same advisories for the latest release, so every package installed at its latest
  # release is audited from it; one that is not is NOT AUDITED and fails, unless accepted in
  # PYPI_UNAUDITABLE_OK.
  note "PyPI's per-release JSON API is not reachable: auditing from its project-level JSON."
  timeout -k 10 300 "${PYPI_HELPER_CMD[@]}" advisories "$workdir/closure.txt" \
    "$(join_by_comma "${PIP_AUDIT_IGNORE[@]}")" "$(join_by_comma "${PYPI_UNAUDITABLE_OK[@]}")" \
    "$PYPI_CANARY" || rc=$?
  case $rc in
    0) return 0 ;;
    1) return 1 ;;
    124 | 137) note "pip-audit: PyPI did not answer within 300 s."; return 2 ;;
    *) note "pip-audit: PyPI's advisories could not be read, so nothing was audited."; return 2 ;;
  esac
}

npm_scan() {
  local rc=0
  if ! command -v npm >/dev/null; then
    note "npm audit: npm is not installed."
    return 1
  fi
  # The lock file is what is installed (npm ci), so it is what is audited; every package in it
  # is served to browsers (package.json has no devDependencies).
  timeout -k 10 60 npm audit --package-lock-only --audit-level=low --json \
    --fetch-timeout=$((HTTP_TIMEOUT * 1000)) --fetch-retries=1 \
    >"$workdir/npm.json" 2>"$workdir/npm.err" || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    note "npm audit: the registry did not answer within 60 s, so nothing was audited."
    return 2
  fi
  "$PY" - "$workdir/npm.json" "$workdir/npm.err" <<'PY' || return $?
import json
import sys

try:
    report = json.load(open(sys.argv[1], encoding="utf-8"))
except ValueError:
    report = {}
if "auditReportVersion" not in report:
    errors = open(sys.argv[2], encoding="utf-8", errors="replace").read().strip().splitlines()
    message = report.get("message") or (errors[-1] if errors else "no report")
    print(f"npm audit: the registry's advisory service did not answer ({message}), "
          "so nothing was audited.")
    sys.exit(2)
counts = report["metadata"]["vulnerabilities"]
total = sum(counts.get(level, 0) for level in ("low", "moderate", "high", "critical"))
for name, vuln in sorted(report.get("vulnerabilities", {}).items()):
    titles = "; ".join(
        f"{v.get('title')} {v.get('url')}" for v in vuln.get("via", []) if isinstance(v, dict)
    )
    print(f"  {vuln['severity'].upper()} {name} {vuln.get('range', '')}: "
          f"{titles or 'via ' + ', '.join(map(str, vuln.get('via', [])))} "
          f"(fix available: {vuln.get('fixAvailable')})")
deps = report["metadata"].get("dependencies", {}).get("total", "?")
print(f"npm audit: {total} vulnerabilities (low or worse) in {deps} packages.")
sys.exit(1 if total else 0)
PY
}

# --- Run -----------------------------------------------------------------------------------
scans=("$@")
[ ${#scans[@]} -gt 0 ] || scans=(bandit pip npm)
declare -A result
failed=0
for scan in "${scans[@]}"; do
  case $scan in
    bandit) step "bandit $("$BIN/bandit" --version | head -n 1 | awk '{print $2}') (our code)" ;;
    pip) step "$("$BIN/pip-audit" --version) (Python packages)" ;;
    npm) step "npm audit, npm $(npm --version 2>/dev/null || echo '?') (front-end packages)" ;;
    *) note "unknown scan '$scan' (bandit, pip, npm)" >&2; exit 2 ;;
  esac
  started=$SECONDS
  rc=0
  "${scan}_scan" || rc=$?
  elapsed=$((SECONDS - started))
  case $rc in
    0) result[$scan]="clean (${elapsed} s)" ;;
    2) if [ "$UNAVAILABLE_OK" = 1 ]; then
         result[$scan]="NOT AUDITED: service unavailable, allowed by AUDIT_UNAVAILABLE_OK=1"
       else
         result[$scan]="FAILED: service unavailable (AUDIT_UNAVAILABLE_OK=1 to go on without it)"
         failed=1
       fi ;;
    *) result[$scan]="FAILED (${elapsed} s)"; failed=1 ;;
  esac
done

step "summary"
for scan in "${scans[@]}"; do printf '  %-7s %s\n' "$scan" "${result[$scan]}"; done
exit "$failed"
