#!/usr/bin/env bash
# How `POST /api/numbers/export` (seed 002) answers a selection of every lead, as CSV and as
# XLSX: the time to the answer's first byte, to its last byte, its size, and the server's peak
# RSS (a fresh server per export, so the peak is that export's). Several builds can be timed in
# turn on the same database, for a baseline measured in the same run.
#
# Usage: bash bench/export.sh
# Environment (all optional):
#   LEADS=1000000      leads imported first (`bench/gen-leads.py`, `switchboard import`)
#   RUNS=3             exports per build and format
#   BACKENDS="sqlite postgres"
#   FORMATS="csv xlsx"
#   PG_URL_BASE=postgres://postgres@127.0.0.1:5432   (it drops and recreates switchboard_export)
#   BUILDS="target/release/switchboard"   server binaries to time, in turn
#   SKIP_BUILD=1       reuse the release binary as it is
#   SLOW_RATE=5M       also: with two CSV downloads read at this rate (curl --limit-rate), the
#                      time a third export takes (exports take turns), per build; empty: skip
set -euo pipefail
cd "$(dirname "$0")/.."
LEADS=${LEADS:-1000000}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-"sqlite postgres"}
FORMATS=${FORMATS:-"csv xlsx"}
PG_URL_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
BUILDS=${BUILDS:-target/release/switchboard}
PORT=${PORT:-18183}
PUBLIC=http://127.0.0.1:$PORT
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server
fi
WORK=$(mktemp -d)
source bench/lib.sh

echo "== machine: $(nproc) cores; $(date -u '+%F %H:%M') UTC; $LEADS leads, $RUNS exports per build and format"
python3 bench/gen-leads.py "$LEADS" "$WORK/leads.csv" >/dev/null
RESULTS=$WORK/results.tsv
: > "$RESULTS"
for backend in $BACKENDS; do
  if [[ $backend == sqlite ]]; then
    URL="sqlite://$WORK/export.db"
  else
    psql "$PG_URL_BASE/postgres" -qc "DROP DATABASE IF EXISTS switchboard_export" -c "CREATE DATABASE switchboard_export" 2>/dev/null
    URL="$PG_URL_BASE/switchboard_export"
  fi
  SB=${BUILDS%% *}
  SWITCHBOARD_DATABASE_URL="$URL" SWITCHBOARD_ADMIN_PASSWORD=bench-password-1 SWITCHBOARD_LOG=warn \
    SWITCHBOARD_PHONE_REGION=US "$SB" import "$WORK/leads.csv" > /dev/null
  for run in $(seq 1 "$RUNS"); do
    for SB in $BUILDS; do
      for format in $FORMATS; do
        start_server "$URL"
        ADMIN=$(token admin bench-password-1)
        echo 5 > "/proc/$SERVER_PID/clear_refs" # the peak RSS from here on
        timing=$(curl -sf -o "$WORK/out" -w '%{time_starttransfer} %{time_total} %{size_download}' \
          "$PUBLIC/api/numbers/export" -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \
          -d "{\"select_all\": true, \"format\": \"$format\"}") || timing="FAILED 0 0"
        peak=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
        stop_server
        if [[ $format == csv ]]; then
          rows=$(($(wc -l < "$WORK/out") - 1))
        else
          rows=$(python3 -c 'import sys, zipfile, re
z = zipfile.ZipFile(sys.argv[1])
print(sum(len(re.findall(rb"<row ", z.read(n))) - 1 for n in z.namelist() if n.startswith("xl/worksheets/sheet")))' "$WORK/out")
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$SB" "$format" "$timing" "$peak" "$rows" | tr ' ' '\t' >> "$RESULTS"
        read -r first total size <<< "$timing"
        printf '%-8s run %d  %-32s %-4s first byte %6s s  all %6s s  %4d MB  %8d rows  peak RSS %6.1f MiB\n' \
          "$backend" "$run" "$SB" "$format" "$first" "$total" "$((size / 1000000))" "$rows" "$(echo "$peak / 1024" | bc -l)"
      done
    done
  done
done
if [[ -n "${SLOW_RATE:-}" ]]; then
  echo "== a CSV export while two CSV downloads are read at $SLOW_RATE/s"
  for run in $(seq 1 "$RUNS"); do
    for backend in $BACKENDS; do
      if [[ $backend == sqlite ]]; then URL="sqlite://$WORK/export.db"; else URL="$PG_URL_BASE/switchboard_export"; fi
      for SB in $BUILDS; do
        start_server "$URL"
        ADMIN=$(token admin bench-password-1)
        slow=()
        for _ in 1 2; do
          curl -sf -o /dev/null --limit-rate "$SLOW_RATE" "$PUBLIC/api/numbers/export" -H "authorization: Bearer $ADMIN" \
            -H 'content-type: application/json' -d '{"select_all": true, "format": "csv"}' &
          slow+=($!)
        done
        sleep 1
        third=$(curl -sf -o /dev/null -w '%{time_total}' "$PUBLIC/api/numbers/export" -H "authorization: Bearer $ADMIN" \
          -H 'content-type: application/json' -d '{"select_all": true, "format": "csv"}') || third=FAILED
        kill "${slow[@]}" 2>/dev/null || true
        wait "${slow[@]}" 2>/dev/null || true
        stop_server
        printf '%-8s run %d  %-32s the third export: %s s\n' "$backend" "$run" "$SB" "$third"
      done
    done
  done
fi
echo "== medians"
python3 - "$RESULTS" <<'PY'
import sys, statistics, collections
groups = collections.defaultdict(list)
for line in open(sys.argv[1]):
    backend, build, fmt, first, total, size, peak, rows = line.rstrip("\n").split("\t")
    if first == "FAILED":
        print(f"{backend} {build} {fmt}: an export FAILED")
        continue
    groups[(backend, build, fmt)].append((float(first), float(total), int(size), int(peak), int(rows)))
print("backend | build | format | first byte s | all s | MB | rows | peak RSS MiB")
for (backend, build, fmt), runs in groups.items():
    med = lambda k: statistics.median(r[k] for r in runs)
    print(f"{backend} | {build} | {fmt} | {med(0):.2f} | {med(1):.2f} | {med(2)/1e6:.0f} | {med(4):.0f} | {med(3)/1024:.1f}")
PY
