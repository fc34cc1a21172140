#!/usr/bin/env bash
# What deleting a large list (`DELETE /api/lists/{id}`) does to the writes around it: a list of
# LEADS imported leads is deleted while a writer keeps changing leads through the API (a new
# lead, then a note on a lead of the list, every 20 ms). Per build and database: the deletion's
# time, and how long the writes that overlapped it took (median and longest). Several builds
# can be timed in turn, each on a fresh database, for a baseline measured in the same run.
#
# Usage: bash bench/list-delete.sh
# Environment (all optional):
#   LEADS=1000000      leads in the list (`bench/gen-leads.py`, `switchboard import --list`)
#   RUNS=3             deletions per build and database
#   BACKENDS="sqlite postgres"
#   PG_URL_BASE=postgres://postgres@127.0.0.1:5432   (it drops and recreates switchboard_lists)
#   BUILDS="target/release/switchboard"   server binaries to time, in turn
#   SKIP_BUILD=1       reuse the release binary as it is
set -euo pipefail
cd "$(dirname "$0")/.."
LEADS=${LEADS:-1000000}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_URL_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
BUILDS=${BUILDS:-target/release/switchboard}
PORT=${PORT:-18184}
PUBLIC=http://127.0.0.1:$PORT
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server
fi
WORK=$(mktemp -d)
source bench/lib.sh

echo "== machine: $(nproc) cores; $(date -u '+%F %H:%M') UTC; $LEADS leads in the list, $RUNS deletions per build"
python3 bench/gen-leads.py "$LEADS" "$WORK/leads.csv" >/dev/null
RESULTS=$WORK/results.tsv
: > "$RESULTS"
for run in $(seq 1 "$RUNS"); do
  for backend in $BACKENDS; do
    for SB in $BUILDS; do
      if [[ $backend == sqlite ]]; then
        rm -f "$WORK"/lists.db*
        URL="sqlite://$WORK/lists.db"
      else
        psql "$PG_URL_BASE/postgres" -qc "DROP DATABASE IF EXISTS switchboard_lists" -c "CREATE DATABASE switchboard_lists" 2>/dev/null
        URL="$PG_URL_BASE/switchboard_lists"
      fi
      SWITCHBOARD_DATABASE_URL="$URL" SWITCHBOARD_ADMIN_PASSWORD=bench-password-1 SWITCHBOARD_LOG=warn \
        SWITCHBOARD_PHONE_REGION=US "$SB" import --list Big "$WORK/leads.csv" > /dev/null 2>&1
      start_server "$URL"
      ADMIN=$(token admin bench-password-1)
      LIST=$(curl -sf "$PUBLIC/api/lists" -H "authorization: Bearer $ADMIN" \
        | python3 -c 'import json,sys; print([l["id"] for l in json.load(sys.stdin)["lists"] if l["name"] == "Big"][0])')
      rm -f "$WORK/stop" "$WORK/writes"
      python3 bench/writer.py "$PUBLIC" "$ADMIN" "$LEADS" "$WORK/stop" "$WORK/writes" &
      WRITER=$!
      sleep 2
      span=$(python3 -c 'import time; print(time.time())')
      took=$(curl -sf -o /dev/null -w '%{time_total}' -X DELETE "$PUBLIC/api/lists/$LIST" \
        -H "authorization: Bearer $ADMIN") || took=FAILED
      span="$span $(python3 -c 'import time; print(time.time())')"
      sleep 1
      touch "$WORK/stop"
      wait "$WRITER"
      left=$(curl -sf "$PUBLIC/api/leads?listId=$LIST" -H "authorization: Bearer $ADMIN" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["pagination"]["total"])')
      stop_server
      stats=$(python3 - "$WORK/writes" $span <<'PY'
import statistics, sys
start, end = float(sys.argv[2]), float(sys.argv[3])
during, failed = [], 0
for line in open(sys.argv[1]):
    t0, took, status = line.split()
    t0, took = float(t0), float(took)
    if t0 + took >= start and t0 <= end:
        during.append(took)
        failed += status not in ("200", "201")
print(len(during), f"{statistics.median(during):.4f}" if during else "-", f"{max(during):.3f}" if during else "-", failed)
PY
)
      read -r n med longest failed <<< "$stats"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$SB" "$took" "$n" "$med" "$longest" "$failed" >> "$RESULTS"
      printf '%-8s run %d  %-32s delete %7s s  %4s writes during it: median %7s s, longest %6s s, %s failed; %s leads left in the list\n' \
        "$backend" "$run" "$SB" "$took" "$n" "$med" "$longest" "$failed" "$left"
    done
  done
done
echo "== medians"
python3 - "$RESULTS" <<'PY'
import sys, statistics, collections
groups = collections.defaultdict(list)
for line in open(sys.argv[1]):
    backend, build, took, n, med, longest, failed = line.rstrip("\n").split("\t")
    if took == "FAILED" or med == "-":
        print(f"{backend} {build}: a deletion FAILED or no write overlapped it")
        continue
    groups[(backend, build)].append((float(took), float(med), float(longest), int(n), int(failed)))
print("backend | build | delete s | writes during it | their median s | the longest s | failed")
for (backend, build), runs in groups.items():
    m = lambda k: statistics.median(r[k] for r in runs)
    print(f"{backend} | {build} | {m(0):.2f} | {m(3):.0f} | {m(1):.4f} | {m(2):.3f} | {sum(r[4] for r in runs)}")
PY
