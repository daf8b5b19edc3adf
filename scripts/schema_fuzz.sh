#!/usr/bin/env bash
# Schema fuzz run of the REST API (SPEC §5: "a schema fuzzer finds no undocumented status or
# shape"). Starts a real server (gunicorn, DEBUG=0) on loopback over a throwaway SQLite database
# seeded through the services, takes an administrator's JWT, and lets schemathesis send
# generated requests to every operation of /api/v1/schema/, checking each response against the
# schema. Exits non-zero on any failure; the server and the temporary files go on exit.
#
#   scripts/schema_fuzz.sh                 # or: make fuzz
#   FUZZ_MAX_EXAMPLES=50 FUZZ_MAX_TIME=600 FUZZ_SEED=123 scripts/schema_fuzz.sh
set -Eeuo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-20}
# Time budget of schemathesis (it fuzzes again while budget is left, and stops when it is
# spent), and a hard kill a minute later: the whole script stays under ~5 minutes.
MAX_TIME=${FUZZ_MAX_TIME:-150}

workdir=$(mktemp -d "${TMPDIR:-/tmp}/techticket-fuzz.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Production-like settings, every path inside the throwaway directory.
export DEBUG=0
export SECRET_KEY
SECRET_KEY=$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(50))')
export DATABASE_URL="sqlite:///$workdir/fuzz.sqlite3"
export MEDIA_ROOT="$workdir/uploads"
export LOG_DIR="$workdir/logs"
export ALLOWED_HOSTS=127.0.0.1,localhost
export LANGUAGE_CODE=en
mkdir -p "$MEDIA_ROOT" "$LOG_DIR"

admin_password=$($BIN/python -c 'import secrets; print(secrets.token_hex(16))')
$BIN/python manage.py migrate --no-input -v 0
$BIN/python manage.py seed_fuzz --admin-password="$admin_password"

port=$($BIN/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# No request-line limit: gunicorn's own (4094 bytes) would answer long generated query strings
# with an HTML 414 before the application sees them; the application is what is tested here.
$BIN/gunicorn techticket.wsgi --bind "127.0.0.1:$port" --workers 2 --timeout 60 \
  --limit-request-line 0 >"$workdir/gunicorn.log" 2>&1 &
server_pid=$!
schema_ready() {
  $BIN/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
    "$base/api/v1/schema/" 2>/dev/null
}
for _ in $(seq 1 100); do
  schema_ready && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$workdir/gunicorn.log"; exit 1; }
  sleep 0.2
done
schema_ready || { echo "The server did not answer." >&2; cat "$workdir/gunicorn.log"; exit 1; }

# The administrator's token first: the fuzzer's own calls to auth/token/ will lock out the
# usernames it tries (django-axes answers 429, a documented status), never this one.
access=$(FUZZ_PASSWORD="$admin_password" $BIN/python - "$base/api/v1/auth/token/" <<'PY'
import json, os, sys, urllib.request

body = json.dumps({"username": "fuzz-admin", "password": os.environ["FUZZ_PASSWORD"]})
request = urllib.request.Request(
    sys.argv[1], data=body.encode(), headers={"Content-Type": "application/json"}
)
with urllib.request.urlopen(request, timeout=10) as response:
    print(json.load(response)["access"])
PY
)

# Every check schemathesis has (server errors, status codes, content types, response schemas
# and headers, 401 without the token, 405 for other methods, refused malformed input, ...),
# except where it cannot hold: positive_data_acceptance, and negative_data_rejection for request
# bodies; scripts/schemathesis.toml says why (checks are chosen there, not with --checks, which
# would override its per-operation settings).
status=0
timeout --kill-after=10 "$((MAX_TIME + 60))" \
  $BIN/schemathesis --config-file scripts/schemathesis.toml run "$base/api/v1/schema/" \
  --header "Authorization: Bearer $access" \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  ${FUZZ_SEED:+--seed "$FUZZ_SEED"} \
  --request-timeout 30 \
  --generation-database none \
  --no-color \
  || status=$?

if [ "$status" -ne 0 ]; then
  echo "Schema fuzz run failed (exit $status). Errors the server logged:" >&2
  grep -h -A30 -E ' (ERROR|CRITICAL) ' "$LOG_DIR/app.log" "$workdir/gunicorn.log" >&2 || true
fi
exit "$status"
