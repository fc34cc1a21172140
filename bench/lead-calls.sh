#!/usr/bin/env bash
# One lead's calls (`GET /api/leads/{id}/calls`, the dashboard's lead panel) over a month of
# history: each lead has a handful of calls among a million, and the route must find them
# from the lead index rather than walk the client's calls newest first. Builds named in BUILDS
# take turns (SB_<name> is each one's server binary), so each figure has its baseline from the
# same run.
#
# Usage: bash bench/lead-calls.sh
# Environment (all optional):
#   CALLS=1000000  calls in the history (`switchboard-bench seed-calls --kind history`)
#   LEADS=100000   leads (`bench/gen-leads.py`); the finished calls are spread over them
#   RUNS=9         requests per route and build
#   BUILDS="new"   with SB_new=..., SB_old=...; unset SB_<name>: this checkout's release build
#   BACKENDS="sqlite postgres"
#   PG_URL_BASE=postgres://postgres@127.0.0.1:5432   (it drops and recreates switchboard_leadcalls)
#   SKIP_BUILD=1   reuse the release binaries as they are
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-1000000}
LEADS=${LEADS:-100000}
RUNS=${RUNS:-9}
BUILDS=${BUILDS:-new}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_URL_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18183}
PUBLIC=http://127.0.0.1:$PORT
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server -p switchboard-bench
fi
BENCH=target/release/switchboard-bench
SB=target/release/switchboard
WORK=$(mktemp -d)
source bench/lib.sh

echo "== machine: $(nproc) cores; $(date -u '+%F %H:%M') UTC; $CALLS calls over $LEADS leads; $RUNS requests per route; builds: $BUILDS"
python3 bench/gen-leads.py "$LEADS" "$WORK/leads.csv" >/dev/null
for backend in $BACKENDS; do
  if [[ $backend == sqlite ]]; then
    URL="sqlite://$WORK/leadcalls.db"
    run_sql() { sqlite3 "$WORK/leadcalls.db" "$1"; }
  else
    psql "$PG_URL_BASE/postgres" -qc "DROP DATABASE IF EXISTS switchboard_leadcalls" -c "CREATE DATABASE switchboard_leadcalls" 2>/dev/null
    URL="$PG_URL_BASE/switchboard_leadcalls"
    run_sql() { psql "$URL" -qc "$1"; }
  fi
  SWITCHBOARD_DATABASE_URL="$URL" SWITCHBOARD_ADMIN_PASSWORD=bench-password-1 SWITCHBOARD_LOG=warn \
    SWITCHBOARD_PHONE_REGION=US "$SB" import "$WORK/leads.csv" > /dev/null
  "$BENCH" seed-calls --database-url "$URL" --calls "$CALLS" --kind history
  # The finished calls spread over the leads (a lead has one live call at most).
  run_sql "UPDATE calls SET lead_id = (SELECT MIN(id) FROM leads) + (id % $LEADS) WHERE status NOT IN ('initiated', 'ringing', 'answered')"
  [[ $backend == postgres ]] && run_sql "VACUUM ANALYZE calls"
  LEAD=$(run_sql "SELECT MIN(id) + 4242 FROM leads" | tr -dc '0-9')
  for build in $BUILDS; do
    SB=$(binary_of "$build")
    start_server "$URL"
    ADMIN=$(token admin bench-password-1)
    n=$(curl -sf "$PUBLIC/api/leads/$LEAD/calls?limit=100" -H "authorization: Bearer $ADMIN" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["pagination"]["total"])')
    for path in "/api/leads/$LEAD/calls" "/api/leads/$LEAD/calls?page=2&limit=5"; do
      echo "$backend $build GET $path ($n calls): median $(median_of "$path" "$ADMIN") s"
    done
    stop_server
  done
  SB=target/release/switchboard
done
