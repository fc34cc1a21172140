#!/usr/bin/env bash
# How long the people's panels (seed 001's dashboards and reports) and the bot log's stats take
# over a history of calls, and seed 001's lead lists over many leads: each route's median wall
# time over RUNS requests, per database. No target: the figures show which routes grow with
# the history (BENCHMARKS.md).
#
# Usage: bash bench/panels.sh
# Environment (all optional):
#   CALLS=1000000      calls in the history (a month, `switchboard-bench seed-calls --kind history`; 0: none)
#   LEADS=0            leads imported first (`bench/gen-leads.py`, `switchboard import`); with
#                      leads, the lead lists are timed too
#   LIST=              with LEADS: import them into this list and time the list routes too
#   RUNS=5             requests per route
#   BACKENDS="sqlite postgres"
#   PG_URL_BASE=postgres://postgres@127.0.0.1:5432   (it drops and recreates switchboard_panels)
#   SKIP_BUILD=1       reuse the release binaries as they are
#   SB=path            the server binary to time (default: this checkout's release build)
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-1000000}
LEADS=${LEADS:-0}
LIST=${LIST:-}
RUNS=${RUNS:-5}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_URL_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18182}
PUBLIC=http://127.0.0.1:$PORT
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server -p switchboard-bench
fi
SB=${SB:-target/release/switchboard}
BENCH=target/release/switchboard-bench
WORK=$(mktemp -d)
source bench/lib.sh

echo "== machine: $(nproc) cores; $(date -u '+%F %H:%M') UTC; $CALLS calls, $LEADS leads, $RUNS requests per route; $SB"
if [[ $LEADS -gt 0 ]]; then
  python3 bench/gen-leads.py "$LEADS" "$WORK/leads.csv" >/dev/null
fi
for backend in $BACKENDS; do
  if [[ $backend == sqlite ]]; then
    URL="sqlite://$WORK/panels.db"
    run_sql() { sqlite3 "$WORK/panels.db" "$1"; }
  else
    psql "$PG_URL_BASE/postgres" -qc "DROP DATABASE IF EXISTS switchboard_panels" -c "CREATE DATABASE switchboard_panels" 2>/dev/null
    URL="$PG_URL_BASE/switchboard_panels"
    run_sql() { psql "$URL" -qc "$1"; }
  fi
  if [[ $LEADS -gt 0 ]]; then
    SWITCHBOARD_DATABASE_URL="$URL" SWITCHBOARD_ADMIN_PASSWORD=bench-password-1 SWITCHBOARD_LOG=warn \
      SWITCHBOARD_PHONE_REGION=US "$SB" import ${LIST:+--list "$LIST"} "$WORK/leads.csv" > /dev/null
  fi
  if [[ $CALLS -gt 0 ]]; then
    "$BENCH" seed-calls --database-url "$URL" --calls "$CALLS" --kind history
  fi
  start_server "$URL"
  ADMIN=$(token admin bench-password-1)
  for i in $(seq 1 10); do
    curl -sf -o /dev/null "$PUBLIC/api/users" -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \
      -d "{\"username\":\"op$i\",\"email\":\"op$i@example.com\",\"password\":\"operator-pass-$i\",\"role\":\"operator\"}"
  done
  # Four calls in five made by one of the ten operators, the fifth by nobody (a dialer's).
  run_sql "UPDATE calls SET user_id = CASE WHEN id % 5 = 0 THEN NULL ELSE (SELECT MIN(id) FROM users WHERE role = 'operator') + (id % 10) END"
  [[ $backend == postgres ]] && run_sql "VACUUM ANALYZE calls"
  OPERATOR=$(token op3 operator-pass-3)
  for path in /api/admin/dashboard /api/admin/reports/performance /api/calls/stats /api/calls/analytics; do
    echo "$backend GET $path: median $(median_of "$path" "$ADMIN") s"
  done
  for path in /api/operator/dashboard /api/operator/profile/performance; do
    echo "$backend GET $path (an operator): median $(median_of "$path" "$OPERATOR") s"
  done
  echo "$backend GET /api/calls?page=1&limit=20 (a page of the log, for scale): median $(median_of '/api/calls?page=1&limit=20' "$ADMIN") s"
  if [[ $LEADS -gt 0 ]]; then
    for path in '/api/operator/leads/available?page=1&limit=20' '/api/operator/leads/available?page=1&limit=20&priority=high' \
        '/api/operator/leads/available?page=500&limit=20'; do
      echo "$backend GET $path (an operator): median $(median_of "$path" "$OPERATOR") s"
    done
    # The searches: a whole number as people write it (the first generated lead's), part of
    # one, and a name.
    for path in '/api/leads?page=1&limit=20' '/api/leads?priority=high' '/api/leads?status=pending&priority=urgent,high' \
        '/api/leads?search=(212)%20736-3900' '/api/leads?search=7363900' '/api/leads?search=melissa'; do
      echo "$backend GET $path: median $(median_of "$path" "$ADMIN") s"
    done
    if [[ -n $LIST ]]; then
      for path in '/api/lists' '/api/lists/1' '/api/leads?listId=1&page=1&limit=20' '/api/leads?listId=1&page=1&limit=20&sortBy=created_at&sortOrder=asc'; do
        echo "$backend GET $path: median $(median_of "$path" "$ADMIN") s"
      done
    fi
  fi
  stop_server
done
