#!/usr/bin/env bash
# Outbound webhooks under load: signed Twilio status callbacks for CALLS calls (4 each, 64
# senders, as bench/calls.sh part 1) with a webhook that hears every event, against the same
# without a webhook in the same run; then how long the deliveries take to drain to a local
# receiver (bench/webhook-receiver.py, which checks every signature) and at what rate.
#
# Usage: bash bench/webhooks.sh     Environment: CALLS=2000, RUNS=2, CONCURRENCY=64,
#        PG=postgres://postgres@127.0.0.1:5432 (empty: SQLite only), SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-2000}
RUNS=${RUNS:-2}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-18183}
HOOK_PORT=${HOOK_PORT:-18184}
PG=${PG-postgres://postgres@127.0.0.1:5432}
TOKEN=bench-twilio-token
PUBLIC=http://127.0.0.1:$PORT
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server -p switchboard-bench
fi
SB=${SB:-target/release/switchboard}
BENCH=target/release/switchboard-bench
WORK=$(mktemp -d)
source bench/lib.sh
RECEIVER_PID=
trap 'cleanup; [[ -n "$RECEIVER_PID" ]] && kill "$RECEIVER_PID" 2>/dev/null; true' EXIT
export SWITCHBOARD_PROVIDER=twilio SWITCHBOARD_TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 \
  SWITCHBOARD_TWILIO_AUTH_TOKEN=$TOKEN SWITCHBOARD_CALLER_ID=+14150000000 \
  SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=true

count() { # $1 = database URL, $2 = SQL: one number
  if [[ $1 == sqlite://* ]]; then sqlite3 "${1#sqlite://}" "$2"; else psql -qtA "$1" -c "$2"; fi
}

echo "== machine: $(nproc) cores; $(date -u +%FT%TZ); $CALLS calls x 4 callbacks, $CONCURRENCY senders"
for run in $(seq 1 "$RUNS"); do
  for db in $(databases); do
    for mode in none hook; do
      url=$(fresh_database "$db" "hook_${mode}_$run")
      "$BENCH" seed-calls --database-url "$url" --calls "$CALLS" --kind fresh >/dev/null
      start_server "$url"
      if [[ $mode == hook ]]; then
        jwt=$(token admin bench-password-1)
        secret=$(curl -sf "$PUBLIC/api/webhooks" -H "authorization: Bearer $jwt" -H 'content-type: application/json' \
          -d "{\"url\":\"http://127.0.0.1:$HOOK_PORT/in\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
        rm -f "$WORK/received"
        python3 bench/webhook-receiver.py "$HOOK_PORT" "$secret" "$WORK/received" &
        RECEIVER_PID=$!
        sleep 0.5
      fi
      out=$("$BENCH" webhooks --target "$PUBLIC" --public-url "$PUBLIC" --auth-token "$TOKEN" --calls "$CALLS" --concurrency "$CONCURRENCY")
      sent=$(date +%s.%N)
      echo "run $run $db $mode: $out"
      if [[ $mode == hook ]]; then
        owed=$(count "$url" "select count(*) from webhook_deliveries")
        for _ in $(seq 1 1200); do
          got=$(sed -E 's/received=([0-9]+).*/\1/' "$WORK/received" 2>/dev/null || echo 0)
          [[ "$got" -ge "$owed" ]] && break
          sleep 0.25
          owed=$(count "$url" "select count(*) from webhook_deliveries")
        done
        rec=$(cat "$WORK/received")
        python3 - "$rec" "$sent" "$owed" "$run $db" <<'PY'
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split())
first, last, sent, owed = float(f["first"]), float(f["last"]), float(sys.argv[2]), int(sys.argv[3])
n = int(f["received"])
print(f"run {sys.argv[4]} deliveries: owed={owed} received={n} bad signatures={f['bad']} "
      f"rate={n / max(last - first, 1e-9):.0f}/s drained {max(last - sent, 0):.2f}s after the last callback")
PY
        delivered=$(count "$url" "select count(*) from webhook_deliveries where delivered_at is not null")
        echo "run $run $db check: delivered $delivered / $owed, attempts $(count "$url" "select coalesce(sum(attempts),0) from webhook_deliveries")"
        kill "$RECEIVER_PID"; wait "$RECEIVER_PID" 2>/dev/null || true; RECEIVER_PID=
      fi
      stop_server
      drop_database "$db" "hook_${mode}_$run"
    done
  done
done
