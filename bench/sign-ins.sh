#!/usr/bin/env bash
# A burst of sign-ins (THREADS clients signing in as fast as they can, every one a whole
# argon2id check) and what it does to the rest of the API (a page of leads read every 50 ms)
# and to the server's memory, on SQLite and PostgreSQL. BUILDS="new old" times several binaries
# in turn (target/release/switchboard and copies of other builds: SB_<name>=path).
#
# Usage: bash bench/sign-ins.sh     Environment: THREADS=64, SECONDS_EACH=20, RUNS=2,
#        BUILDS=new, SB_new=target/release/switchboard, SKIP_BUILD=1,
#        PG=postgres://postgres@127.0.0.1:5432 (empty: SQLite only)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-64}
SECONDS_EACH=${SECONDS_EACH:-20}
RUNS=${RUNS:-2}
BUILDS=${BUILDS:-new}
PORT=${PORT:-18182}
PUBLIC=http://127.0.0.1:$PORT
PG=${PG-postgres://postgres@127.0.0.1:5432}
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server
fi
WORK=$(mktemp -d)
source bench/lib.sh

echo "== machine: $(nproc) cores; $(date -u +%FT%TZ); $THREADS clients signing in for ${SECONDS_EACH}s"
for run in $(seq 1 "$RUNS"); do
  for db in $(databases); do
    for build in $BUILDS; do
      SB=$(binary_of "$build")
      url=$(fresh_database "$db" "signin_${build}_$run")
      start_server "$url"
      out=$(timeout $((SECONDS_EACH + 120)) python3 bench/sign-ins.py "$PUBLIC" "$THREADS" "$SECONDS_EACH")
      rss=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
      threads=$(ls "/proc/$SERVER_PID/task" | wc -l)
      echo "run $run $db $build: $out server peak RSS ${rss} kB, threads at the end $threads"
      stop_server
      drop_database "$db" "signin_${build}_$run"
    done
  done
done
