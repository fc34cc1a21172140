#!/usr/bin/env bash
# A large CSV upload through POST /api/leads/upload-csv (seed 001): ROWS generated leads
# (bench/gen-leads.py) sent by curl to a release `switchboard serve` on a fresh SQLite file,
# with the upload limit raised to fit. Prints the time, the import's summary and the server's
# peak RSS. BUILDS="new old" times several binaries in turn (SB_<name>=path).
#
# Usage: bash bench/upload.sh     Environment: ROWS=1000000, RUNS=2, BUILDS=new,
#        SB_new=target/release/switchboard, SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-2}
BUILDS=${BUILDS:-new}
PORT=${PORT:-18183}
PUBLIC=http://127.0.0.1:$PORT
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server
fi
WORK=$(mktemp -d)
source bench/lib.sh
python3 bench/gen-leads.py "$ROWS" "$WORK/leads.csv"
SIZE=$(stat -c %s "$WORK/leads.csv")
export SWITCHBOARD_UPLOAD_LIMIT_MB=$(( SIZE / 1024 / 1024 + 2 ))

echo "== machine: $(nproc) cores; $(date -u +%FT%TZ); $ROWS rows, $SIZE bytes"
for run in $(seq 1 "$RUNS"); do
  for build in $BUILDS; do
    SB=$(binary_of "$build")
    start_server "sqlite://$WORK/$build-$run.db"
    jwt=$(token admin bench-password-1)
    out=$(curl -sS -o "$WORK/answer.json" -w '%{http_code} %{time_total}' \
      -H "authorization: Bearer $jwt" -F "csvFile=@$WORK/leads.csv" "$PUBLIC/api/leads/upload-csv")
    summary=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"])' "$WORK/answer.json")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
    echo "run $run $build: HTTP ${out% *} in ${out#* } s; $summary; server peak RSS ${rss} kB"
    stop_server
  done
done
