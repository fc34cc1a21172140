#!/usr/bin/env bash
# Benchmark `switchboard import` against the databases' own bulk loaders:
#   SQLite:     sqlite3 `.import` into a plain table (no constraints, no indexes)
#   PostgreSQL: psql `\copy ... FROM file WITH (FORMAT csv, HEADER true)` into a plain table
#
# Usage: bash bench/import.sh
# Environment (all optional):
#   ROWS=1000000        leads in the generated CSV
#   RUNS=3              repetitions per backend; each runs ours then the baseline (A B A B ...)
#   BACKENDS="sqlite postgres"
#   PHONE_REGION=US     SWITCHBOARD_PHONE_REGION for our importer ("none" = no default region)
#   PG_URL_BASE=postgres://postgres@127.0.0.1:5432   PostgreSQL server (trust auth)
#   SKIP_BUILD=1        reuse target/release/switchboard as it is
#   PG_JOBS=2           PostgreSQL: `switchboard import --jobs 2` (sessions in parallel)
#   STEP_TIMEOUT=900    seconds allowed for any one timed step
#   TOTAL_TIMEOUT=5400  seconds allowed for the whole script (build included)
#
# Every timed step runs under `/usr/bin/time -v`; we record its wall-clock time and
# "Maximum resident set size". The summary quotes medians, rows/s = ROWS / median seconds,
# the ratio ours/baseline of the medians and the median of the per-repetition ratios.
set -euo pipefail

# Bound the whole run: re-run this script under `timeout` once (it kills the process group).
if [[ -z "${_SB_IMPORT_BENCH_BOUNDED:-}" ]]; then
    export _SB_IMPORT_BENCH_BOUNDED=1
    exec timeout "${TOTAL_TIMEOUT:-5400}" bash "$0" "$@"
fi

ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PHONE_REGION=${PHONE_REGION:-US}
PG_URL_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
PG_HOST=127.0.0.1
PG_PORT=5432
PG_USER=postgres
PG_DB=switchboard_bench
STEP_TIMEOUT=${STEP_TIMEOUT:-900}

die() { echo "FATAL: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
REPO=$(pwd)
BIN=$REPO/target/release/switchboard

[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer, got '$ROWS'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"

# --- tools -------------------------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
    echo "/usr/bin/time is missing; installing GNU time" >&2
    if [[ $(id -u) -eq 0 ]]; then
        apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
    else
        sudo apt-get install -y -qq time >/dev/null
    fi
fi
for tool in python3 timeout; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
for b in $BACKENDS; do
    case $b in
        sqlite) command -v sqlite3 >/dev/null || die "sqlite3 is required for the SQLite baseline" ;;
        postgres) command -v psql >/dev/null || die "psql is required for the PostgreSQL baseline" ;;
        *) die "unknown backend '$b' (sqlite, postgres)" ;;
    esac
done

psqlc() { PGCONNECT_TIMEOUT=10 PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$@"; }

WORK=$(mktemp -d /tmp/switchboard-import-bench.XXXXXX)
PG_USED=0
cleanup() {
    if [[ $PG_USED == 1 ]]; then
        psqlc -d postgres -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# --- build -------------------------------------------------------------------------------
if [[ -z "${SKIP_BUILD:-}" ]]; then
    echo "== building: cargo build --release -p switchboard-server" >&2
    timeout 3600 cargo build --release -p switchboard-server || die "release build failed"
fi
[[ -x $BIN ]] || die "$BIN not found (build failed?)"

# --- environment -------------------------------------------------------------------------
echo "== environment"
echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpus:      $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "memory:    $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "load avg:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit:    $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "rustc:     $(rustc --version 2>/dev/null || echo unknown)"
for b in $BACKENDS; do
    case $b in
        sqlite) echo "sqlite3:   $(sqlite3 --version | cut -d' ' -f1)" ;;
        postgres)
            v=$(psqlc -d postgres -tAc 'SHOW server_version') ||
                die "cannot reach PostgreSQL at $PG_HOST:$PG_PORT as $PG_USER"
            echo "postgres:  $v (server at $PG_HOST:$PG_PORT)"
            ;;
    esac
done
echo "rows:      $ROWS; repetitions: $RUNS; phone region: $PHONE_REGION; PostgreSQL import jobs: ${PG_JOBS:-1}"

# --- input -------------------------------------------------------------------------------
CSV=$WORK/leads.csv
echo "== generating $ROWS leads" >&2
timeout "$STEP_TIMEOUT" python3 "$REPO/bench/gen-leads.py" "$ROWS" "$CSV" || die "generator failed"
lines=$(wc -l <"$CSV")
[[ $lines -eq $((ROWS + 1)) ]] || die "generated $lines lines, expected $((ROWS + 1))"
echo "input:     $(du -m "$CSV" | cut -f1) MB CSV, $ROWS rows + header"

# --- measurement helpers -----------------------------------------------------------------
RESULTS=$WORK/results.tsv
: >"$RESULTS"

# timed TAG LOG CMD... : run CMD under /usr/bin/time -v; sets SECS and RSS_KB.
timed() {
    local tag=$1 log=$2
    shift 2
    local tf=$WORK/time.$tag
    if ! timeout "$STEP_TIMEOUT" /usr/bin/time -v -o "$tf" "$@" >"$log" 2>&1; then
        echo "---- output of the failed step ($tag):" >&2
        tail -n 30 "$log" >&2 || true
        [[ -f $tf ]] && tail -n 30 "$tf" >&2
        die "step '$tag' failed (or exceeded STEP_TIMEOUT=${STEP_TIMEOUT}s): $*"
    fi
    SECS=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tf" |
        awk -F: '{ if (NF == 3) printf "%.2f", $1 * 3600 + $2 * 60 + $3; else printf "%.2f", $1 * 60 + $2 }')
    RSS_KB=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tf")
    [[ -n $SECS && -n $RSS_KB ]] || die "cannot read /usr/bin/time output for $tag"
}

record() { # backend run kind
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$SECS" "$RSS_KB" >>"$RESULTS"
    awk -v b="$1" -v r="$2" -v n="$RUNS" -v k="$3" -v s="$SECS" -v m="$RSS_KB" -v rows="$ROWS" \
        'BEGIN { printf "%-8s run %d/%d  %-8s %8.2f s  %9.0f rows/s  peak RSS %7.1f MiB\n", b, r, n, k, s, rows / s, m / 1024 }'
}

expect_count() { # what got
    [[ $2 == "$ROWS" ]] || die "$1 holds '$2' rows, expected exactly $ROWS"
}

ours() { # backend run url
    local log=$WORK/ours-$1-$2.log
    timed "ours-$1-$2" "$log" env \
        SWITCHBOARD_DATABASE_URL="$3" \
        SWITCHBOARD_ADMIN_PASSWORD=benchpassword1 \
        SWITCHBOARD_PHONE_REGION="$PHONE_REGION" \
        "$BIN" import "$CSV" ${PG_JOBS:+$([[ $1 == postgres ]] && echo "--jobs $PG_JOBS")}
    record "$1" "$2" ours
    grep -h '^processed' "$log" | sed 's/^/           importer says: /' || true
}

# --- SQLite --------------------------------------------------------------------------------
bench_sqlite() {
    local r db
    for r in $(seq 1 "$RUNS"); do
        # A: ours, on a fresh database file.
        db=$WORK/ours-$r.db
        rm -f "$db" "$db-wal" "$db-shm"
        ours sqlite "$r" "sqlite://$db"
        expect_count "SQLite leads table (run $r)" "$(sqlite3 "$db" 'select count(*) from leads')"
        rm -f "$db" "$db-wal" "$db-shm"

        # B: sqlite3 .import into a plain table on a fresh database file.
        db=$WORK/base-$r.db
        rm -f "$db"
        sqlite3 "$db" 'CREATE TABLE t(phone text, name text, email text, priority text, tags text);'
        timed "base-sqlite-$r" "$WORK/base-sqlite-$r.log" \
            sqlite3 "$db" -cmd '.mode csv' ".import --skip 1 $CSV t"
        record sqlite "$r" baseline
        expect_count "SQLite baseline table (run $r)" "$(sqlite3 "$db" 'select count(*) from t')"
        rm -f "$db"
    done
}

# --- PostgreSQL ----------------------------------------------------------------------------
fresh_pg() {
    psqlc -d postgres -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
}

bench_postgres() {
    local r
    PG_USED=1
    for r in $(seq 1 "$RUNS"); do
        # A: ours, on a fresh database.
        fresh_pg
        ours postgres "$r" "$PG_URL_BASE/$PG_DB"
        expect_count "PostgreSQL leads table (run $r)" "$(psqlc -d "$PG_DB" -tAc 'select count(*) from leads')"

        # B: \copy into a plain table on a fresh database.
        fresh_pg
        psqlc -d "$PG_DB" -c 'CREATE TABLE t(phone text, name text, email text, priority text, tags text)'
        timed "base-postgres-$r" "$WORK/base-postgres-$r.log" \
            psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" \
            -c "\\copy t FROM '$CSV' WITH (FORMAT csv, HEADER true)"
        record postgres "$r" baseline
        expect_count "PostgreSQL baseline table (run $r)" "$(psqlc -d "$PG_DB" -tAc 'select count(*) from t')"
    done
    fresh_pg
}

echo "== per-run figures (wall clock and peak RSS from /usr/bin/time -v)"
for b in $BACKENDS; do
    "bench_$b"
done

# --- summary -------------------------------------------------------------------------------
echo "== summary (medians of $RUNS runs, $ROWS rows)"
python3 - "$RESULTS" "$ROWS" <<'PY'
import statistics
import sys
from collections import defaultdict

path, rows = sys.argv[1], int(sys.argv[2])
data = defaultdict(dict)  # (backend, kind) -> {run: (secs, rss_kb)}
order = []
for line in open(path):
    b, run, kind, secs, rss = line.split("\t")
    data[(b, kind)][int(run)] = (float(secs), int(rss))
    if b not in order:
        order.append(b)

hdr = ("backend", "ours s", "baseline s", "ratio (medians)", "median per-run ratio",
       "ours rows/s", "baseline rows/s", "ours peak RSS MiB", "baseline peak RSS MiB")
print(" | ".join(hdr))
verdicts = []
for b in order:
    ours, base = data[(b, "ours")], data[(b, "baseline")]
    o_s = statistics.median(v[0] for v in ours.values())
    b_s = statistics.median(v[0] for v in base.values())
    o_rss = statistics.median(v[1] for v in ours.values()) / 1024
    b_rss = statistics.median(v[1] for v in base.values()) / 1024
    pair = statistics.median(ours[r][0] / base[r][0] for r in ours if r in base)
    ratio = o_s / b_s
    print(" | ".join([b, f"{o_s:.2f}", f"{b_s:.2f}", f"{ratio:.2f}x", f"{pair:.2f}x",
                      f"{rows / o_s:,.0f}", f"{rows / b_s:,.0f}", f"{o_rss:.1f}", f"{b_rss:.1f}"]))
    verdicts.append((b, rows / o_s, o_rss, ratio, pair))
print()
print("targets: >= 200,000 rows/s, peak RSS <= 150 MB, <= 2x the baseline")
for b, rps, rss, ratio, pair in verdicts:
    def v(ok):
        return "met" if ok else "NOT met"
    print(f"  {b:8s} throughput {rps:,.0f} rows/s: {v(rps >= 200_000)}; "
          f"peak RSS {rss:.1f} MiB: {v(rss * 1024 * 1024 <= 150e6)}; "
          f"ratio {ratio:.2f}x (per-run median {pair:.2f}x): {v(ratio <= 2.0)}")
PY
