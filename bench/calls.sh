#!/usr/bin/env bash
# Benchmarks of issue "calls and telephony", on SQLite:
#  1. signed Twilio status callbacks from 64 concurrent senders (4 per call: initiated, ringing,
#     in-progress, completed), against a hello-world axum route loaded the same way in the same run;
#  2. GET /api/calls (one filtered page) over 1,000,000 stored calls.
#
# Usage: bash bench/calls.sh        Environment: CALLS=20000 (webhook calls), HISTORY=1000000,
#        RUNS=3, CONCURRENCY=64, SKIP_BUILD=1 (reuse release binaries), SB (the server binary),
#        LISTENERS=N (N admins read every event as SSE during the callbacks; each must see every
#        call end), SOCKETS=N (the same over Socket.io, with the socket.io-client the tests
#        install: npm ci --prefix crates/server/tests/js)
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-20000}
HISTORY=${HISTORY:-1000000}
RUNS=${RUNS:-3}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-18181}
TOKEN=bench-twilio-token
PUBLIC=http://127.0.0.1:$PORT

if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server -p switchboard-bench
fi
SB=${SB:-target/release/switchboard}
BENCH=target/release/switchboard-bench
WORK=$(mktemp -d)
source bench/lib.sh
# The server (bench/lib.sh's start_server) signs and checks as a Twilio account.
export SWITCHBOARD_PROVIDER=twilio SWITCHBOARD_TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 \
  SWITCHBOARD_TWILIO_AUTH_TOKEN=$TOKEN SWITCHBOARD_CALLER_ID=+14150000000
rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }

echo "== machine: $(nproc) cores; $(date -u +%F)"
if [[ -z "${SKIP_WEBHOOKS:-}" ]]; then
echo "== 1. signed Twilio status callbacks, $CALLS calls x 4 events, $CONCURRENCY senders (SQLite)"
for run in $(seq 1 "$RUNS"); do
  DB="$WORK/hooks-$run.db"
  "$BENCH" seed-calls --database-url "sqlite://$DB" --calls "$CALLS" --kind fresh >/dev/null
  start_server "sqlite://$DB"
  if (( ${LISTENERS:-0} > 0 )); then
    ADMIN_JWT=$(token admin bench-password-1)
    for i in $(seq 1 "$LISTENERS"); do
      curl -sN "$PUBLIC/api/events" -H "authorization: Bearer $ADMIN_JWT" > "$WORK/sse-$i.out" &
    done
    sleep 0.5
  fi
  if (( ${SOCKETS:-0} > 0 )); then
    ADMIN_JWT=$(token admin bench-password-1)
    # The clients read their standard input until it ends: a FIFO this script holds open.
    [[ -p "$WORK/hold" ]] || mkfifo "$WORK/hold"
    exec 3<>"$WORK/hold"
    for i in $(seq 1 "$SOCKETS"); do
      node crates/server/tests/js/client.mjs "$PUBLIC" "$ADMIN_JWT" handshake websocket < "$WORK/hold" > "$WORK/sio-$i.out" &
    done
    for i in $(seq 1 "$SOCKETS"); do
      until grep -q '"authenticated"' "$WORK/sio-$i.out" 2>/dev/null; do sleep 0.1; done
    done
  fi
  "$BENCH" webhooks --target "$PUBLIC" --public-url "$PUBLIC" --auth-token "$TOKEN" --calls "$CALLS" --concurrency "$CONCURRENCY" | sed "s/^/run $run /"
  echo "run $run server peak RSS: $(rss_kb) kB"
  stop_server
  if (( ${SOCKETS:-0} > 0 )); then
    exec 3>&-
    wait
  fi
  for i in $(seq 1 "${SOCKETS:-0}"); do
    heard=$(grep -c '"event":"callTerminated"' "$WORK/sio-$i.out" || true)
    echo "run $run socket $i heard $heard call ends of $CALLS ($(wc -l < "$WORK/sio-$i.out") lines)"
    [[ "$heard" == "$CALLS" ]] || { echo "FAILED: a socket missed events"; exit 1; }
  done
  for i in $(seq 1 "${LISTENERS:-0}"); do
    heard=$(grep -c '^event: callTerminated' "$WORK/sse-$i.out" || true)
    echo "run $run listener $i heard $heard call ends of $CALLS ($(grep -c '^event: ' "$WORK/sse-$i.out") events)"
    [[ "$heard" == "$CALLS" ]] || { echo "FAILED: a listener missed events"; exit 1; }
  done
  done_calls=$(sqlite3 "$DB" "select count(*) from calls where status='completed' and duration_secs=42")
  events=$(sqlite3 "$DB" "select count(*) from call_events")
  echo "run $run check: completed calls $done_calls / $CALLS, events $events / $((CALLS * 4))"
  [[ "$done_calls" == "$CALLS" && "$events" == "$((CALLS * 4))" ]] || { echo "FAILED: not every event was applied"; exit 1; }
  "$BENCH" hello --requests $((CALLS * 4)) --concurrency "$CONCURRENCY" | sed "s/^/run $run /"
done
fi

echo "== 2. GET /api/calls over $HISTORY stored calls (SQLite)"
DB="$WORK/history.db"
"$BENCH" seed-calls --database-url "sqlite://$DB" --calls "$HISTORY" --kind history
start_server "sqlite://$DB"
JWT=$(curl -sf "$PUBLIC/api/auth/login" -H 'content-type: application/json' -d '{"username":"admin","password":"bench-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
PATHS=(
  "/api/calls?page=1&limit=20"
  "/api/calls?status=success&page=3&limit=20"
  "/api/calls?type=outbound&status=missed&page=2&limit=20"
  "/api/calls?search=4152001&page=1&limit=20"
  "/api/calls?startDate=$(date -u -d '-3 days' +%F)&endDate=$(date -u +%F)&page=1&limit=50"
)
for run in $(seq 1 "$RUNS"); do
  for path in "${PATHS[@]}"; do
    "$BENCH" get --target "$PUBLIC" --token "$JWT" --requests 1000 --concurrency 8 "$path" | while read -r line; do echo "run $run GET $path ${line#get}"; done
  done
done
echo "server peak RSS: $(rss_kb) kB"
stop_server
