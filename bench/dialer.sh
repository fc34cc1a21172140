#!/usr/bin/env bash
# Benchmarks of issue "the dialer":
#  1. a simulator campaign of LEADS leads (100,000) with a cap of CAP (2,000) live calls, end to
#     end (the simulator's events enter through the same ingest path as provider webhooks), on
#     SQLite and on PostgreSQL: call starts per second (sustained, 10% to 90% of the contacts),
#     peak live calls, p99 latency of API reads made while it runs, server memory;
#  2. external dialers on PostgreSQL: 100,000 queued numbers, CLIENTS (8) clients each looping
#     next-batch?size=100 then one report-result per number; numbers/s, p99 of report-result,
#     numbers handed out twice.
# Baseline in the same run: a hello-world axum route loaded with the same concurrency.
#
# Usage: bash bench/dialer.sh      Environment: LEADS=100000 CAP=2000 RUNS=1 CLIENTS=8
#        BACKENDS="sqlite postgres" SKIP_BUILD=1 TIME_SCALE=25 (simulated seconds per real one)
#        SKIP_CAMPAIGN=1 (only the external dialers) SKIP_DIALERS=1 (only the campaigns)
#        SB=path/to/another/switchboard (an A/B against another build)
set -euo pipefail
cd "$(dirname "$0")/.."
LEADS=${LEADS:-100000}
CAP=${CAP:-2000}
RUNS=${RUNS:-1}
CLIENTS=${CLIENTS:-8}
TIME_SCALE=${TIME_SCALE:-25}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PORT=${PORT:-18282}
PG_BASE=${PG_BASE:-postgres://postgres@127.0.0.1:5432}
TARGET=http://127.0.0.1:$PORT
PASSWORD=bench-password-1
DIALER_TOKEN=bench-dialer-token-0123456789

if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server -p switchboard-bench
fi
SB=${SB:-$PWD/target/release/switchboard}
BENCH=$PWD/target/release/switchboard-bench
WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

python3 - "$WORK/leads.csv" "$LEADS" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("phone,name,priority\n")
    for i in range(int(sys.argv[2])):
        f.write("+1212%07d,Lead %d,%s\n" % (1000000 + i, i, ("urgent", "high", "medium", "low")[i % 4]))
PY

env_for() { # $1 = database url
  export SWITCHBOARD_DATABASE_URL="$1" SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD_RATE_LIMITS=off \
    SWITCHBOARD_ADMIN_PASSWORD=$PASSWORD SWITCHBOARD_LOG=warn SWITCHBOARD_PROVIDER=simulator \
    SWITCHBOARD_SIMULATOR_TIME_SCALE=$TIME_SCALE SWITCHBOARD_MAX_CONCURRENT_CALLS=$CAP \
    SWITCHBOARD_CALLS_PER_SECOND=5000 SWITCHBOARD_DIALER_TOKEN=$DIALER_TOKEN \
    SWITCHBOARD_DIALER_MAX_BATCH_SIZE=1000
}
start_server() {
  "$SB" serve > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "$TARGET/health" >/dev/null && return 0; sleep 0.1; done
  echo "server did not start"; cat "$WORK/server.log"; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
token() {
  curl -sf "$TARGET/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])'
}
open_all_day() { # $1 = token
  local w
  w=$(python3 -c 'import json; print(json.dumps({"timezone":"UTC","windows":[{"weekday":d,"start":"00:00","end":"24:00"} for d in range(7)],"holidays":[],"enabled":True}))')
  curl -sf -X PUT "$TARGET/api/dialer/schedule" -H "authorization: Bearer $1" -H 'content-type: application/json' -d "$w" >/dev/null
}
fresh_db() { # $1 = backend, $2 = name; prints the URL
  if [[ $1 == sqlite ]]; then rm -f "$WORK/$2.db" "$WORK/$2.db-wal" "$WORK/$2.db-shm"; echo "sqlite://$WORK/$2.db"
  else
    psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $2" >/dev/null
    psql "$PG_BASE/postgres" -qc "CREATE DATABASE $2" >/dev/null
    echo "$PG_BASE/$2"
  fi
}
set_client_cap() { # $1 = backend, $2 = url
  if [[ $1 == sqlite ]]; then
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE clients SET max_concurrent_calls = $CAP'); c.commit()" "${2#sqlite://}"
  else
    psql "$2" -qc "UPDATE clients SET max_concurrent_calls = $CAP" >/dev/null
  fi
}

echo "== machine: $(nproc) cores; $(date -u +%F); leads=$LEADS cap=$CAP time_scale=$TIME_SCALE"
echo "== baseline: hello-world axum route, 4 and $CLIENTS concurrent clients"
"$BENCH" hello --requests 20000 --concurrency 4
"$BENCH" hello --requests 20000 --concurrency "$CLIENTS"

for backend in $BACKENDS; do
  [[ -n "${SKIP_CAMPAIGN:-}" ]] && break
  for run in $(seq 1 "$RUNS"); do
    echo "== 1. campaign, $backend, run $run"
    url=$(fresh_db "$backend" sb_bench_campaign)
    env_for "$url"
    "$SB" import "$WORK/leads.csv" --list Bench 2>&1 | tail -1
    set_client_cap "$backend" "$url"
    start_server
    t=$(token); open_all_day "$t"
    list=$(curl -sf "$TARGET/api/lists" -H "authorization: Bearer $t" | python3 -c 'import sys,json; print([l["id"] for l in json.load(sys.stdin)["lists"] if l["name"]=="Bench"][0])')
    [[ -n "${PERF:-}" ]] && (perf record -g -p "$SERVER_PID" -o "${PERF}" -- sleep 15 >/dev/null 2>&1 &)
    "$BENCH" campaign --target "$TARGET" --token "$t" --list-id "$list" --cap "$CAP" --server-pid "$SERVER_PID"
    stop_server
  done
done

if [[ " $BACKENDS " == *" postgres "* && -z "${SKIP_DIALERS:-}" ]]; then
  for run in $(seq 1 "$RUNS"); do
    echo "== 2. external dialers, postgres, run $run"
    url=$(fresh_db postgres sb_bench_dialer)
    env_for "$url"
    "$SB" import "$WORK/leads.csv" --list Queue 2>&1 | tail -1
    start_server
    t=$(token); open_all_day "$t"
    pg_cpu() { local t=0 p; for p in $(pgrep -x postgres); do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null || echo 0))); done; echo $t; }
    sv0=$(awk '{print $14+$15}' /proc/$SERVER_PID/stat); pg0=$(pg_cpu)
    /usr/bin/time -f "dialer clients' CPU: %U s user + %S s system" \
      "$BENCH" dialer-loop --target "$TARGET" --token "$DIALER_TOKEN" --clients "$CLIENTS" --size 100
    sv1=$(awk '{print $14+$15}' /proc/$SERVER_PID/stat); pg1=$(pg_cpu)
    echo "CPU during the loop: server $(( (sv1 - sv0) / 100 )) s, PostgreSQL $(( (pg1 - pg0) / 100 )) s (backends alive at the end)"
    echo "server peak RSS: $(awk '/VmHWM/ {print $2}' /proc/$SERVER_PID/status) kB"
    stop_server
  done
fi
