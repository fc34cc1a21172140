#!/usr/bin/env bash
# A large do-not-call upload through POST /api/dialer/dnc/upload-csv: ROWS numbers
# (bench/gen-leads.py's phone column) sent by curl to a release `switchboard serve` on a fresh
# SQLite file and a fresh PostgreSQL database, with the upload limit raised to fit. While it
# runs, another admin creates a list every 0.1 s (a write that must wait for the upload's);
# prints the upload's time and answer, the slowest of those writes, and the server's peak RSS.
# BUILDS="new old" times several binaries in turn (SB_<name>=path).
#
# Usage: bash bench/dnc-upload.sh   Environment: ROWS=500000, RUNS=2, BUILDS=new,
#        SB_new=target/release/switchboard, SKIP_BUILD=1,
#        PG=postgres://postgres@127.0.0.1:5432 (empty: SQLite only)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-500000}
RUNS=${RUNS:-2}
BUILDS=${BUILDS:-new}
PG=${PG-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18184}
PUBLIC=http://127.0.0.1:$PORT
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server
fi
WORK=$(mktemp -d)
source bench/lib.sh
python3 bench/gen-leads.py "$ROWS" "$WORK/leads.csv"
cut -d, -f1 "$WORK/leads.csv" > "$WORK/dnc.csv"
SIZE=$(stat -c %s "$WORK/dnc.csv")
export SWITCHBOARD_UPLOAD_LIMIT_MB=$(( SIZE / 1024 / 1024 + 2 ))

probe() { # creates a list every 0.1 s until $WORK/stop exists; prints the slowest time
  local jwt=$1 i=0
  while [[ ! -e "$WORK/stop" ]]; do
    i=$((i + 1))
    curl -sf -o /dev/null -w '%{time_total}\n' -H "authorization: Bearer $jwt" \
      -H 'content-type: application/json' -d "{\"name\":\"probe $i\"}" "$PUBLIC/api/lists" || echo FAILED
    sleep 0.1
  done | sort -n | tail -1
}

echo "== machine: $(nproc) cores; $(date -u +%FT%TZ); $ROWS numbers, $SIZE bytes"
for run in $(seq 1 "$RUNS"); do
  for db in $(databases); do
    for build in $BUILDS; do
      SB=$(binary_of "$build")
      url=$(fresh_database "$db" "dnc_${build}_$run")
      start_server "$url"
      jwt=$(token admin bench-password-1)
      rm -f "$WORK/stop"
      probe "$jwt" > "$WORK/probe" &
      probe_pid=$!
      out=$(curl -sS -o "$WORK/answer.json" -w '%{http_code} %{time_total}' \
        -H "authorization: Bearer $jwt" -F "csvFile=@$WORK/dnc.csv" "$PUBLIC/api/dialer/dnc/upload-csv")
      touch "$WORK/stop"
      wait "$probe_pid"
      answer=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print({k: a.get(k) for k in ("added","duplicates","errorCount")})' "$WORK/answer.json")
      rss=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
      echo "run $run $db $build: HTTP ${out% *} in ${out#* } s; $answer; slowest list creation meanwhile $(cat "$WORK/probe") s; server peak RSS ${rss} kB"
      stop_server
      drop_database "$db" "dnc_${build}_$run"
    done
  done
done
