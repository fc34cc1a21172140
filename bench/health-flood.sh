#!/usr/bin/env bash
# A flood of seed 003's public check suites (/health/integration-test?suite=full, which reads
# the call log) over CALLS stored calls on SQLite, and what it does to a database round trip
# meanwhile (bench/health-flood.py). BUILDS="new old" times several binaries in turn
# (SB_<name>=path).
#
# Usage: bash bench/health-flood.sh   Environment: CALLS=1000000, CLIENTS=16, SECONDS_EACH=15,
#        RUNS=2, BUILDS=new, SB_new=target/release/switchboard, SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-1000000}
CLIENTS=${CLIENTS:-16}
SECONDS_EACH=${SECONDS_EACH:-15}
RUNS=${RUNS:-2}
BUILDS=${BUILDS:-new}
PORT=${PORT:-18184}
PUBLIC=http://127.0.0.1:$PORT
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server -p switchboard-bench
fi
BENCH=target/release/switchboard-bench
WORK=$(mktemp -d)
source bench/lib.sh
"$BENCH" seed-calls --database-url "sqlite://$WORK/seed.db" --calls "$CALLS" --kind history > /dev/null

echo "== machine: $(nproc) cores; $(date -u +%FT%TZ); $CALLS calls, $CLIENTS clients for ${SECONDS_EACH}s"
for run in $(seq 1 "$RUNS"); do
  for build in $BUILDS; do
    SB=$(binary_of "$build")
    cp "$WORK/seed.db" "$WORK/run.db"
    rm -f "$WORK/run.db-wal" "$WORK/run.db-shm"
    start_server "sqlite://$WORK/run.db"
    echo "run $run $build: $(python3 bench/health-flood.py "$PUBLIC" "$CLIENTS" "$SECONDS_EACH")"
    stop_server
  done
done
