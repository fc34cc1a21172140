#!/usr/bin/env bash
# What PostgreSQL itself can do with the statements of the two throughput targets that are not
# met, with no Switchboard process in the way: the ceiling any server code could approach on
# this machine with this schema, and how much of it each part of the schema costs.
#
#  1. The external dialer's report (issue "the dialer", target 3,500 numbers/s): the statement
#     `report-result`'s writer sends on PostgreSQL since session 8 (find the numbers, store the
#     attempts, update the leads, read the switch: one statement, its own transaction), printed
#     by `switchboard-bench report-statement` and replayed by pgbench with 1, 4 and 8 reports
#     per statement from one client (the server's one writer), and 4 per statement from two, on
#     leads handed out in a batch as in the loop. pgbench's own CPU is counted with the
#     database's (whole machine). next-batch and the HTTP server come on top of this. (Sessions
#     6 and 7 replayed the earlier forms, one report per transaction and four statements per
#     batch: BENCHMARKS.md keeps their figures.)
#  2. The import (issue "foundation", target 200,000 rows/s on PostgreSQL): the statement the
#     importer ends in, `INSERT INTO leads … SELECT … ON CONFLICT DO NOTHING`, moving the import
#     benchmark's 1,000,000 generated rows from an unlogged staging table in one statement: on
#     the real schema, without foreign keys, and with only the primary key and the one-lead-per-
#     phone index; with `INSERT INTO plain … SELECT` (no constraints, no indexes) as baseline.
#
# Usage: bash bench/ceiling.sh     Environment: SKIP_BUILD=1, RUNS=2 (alternations in part 1),
#        SECONDS_PER_RUN=20, CLIENTS=8, ROWS=1000000, PG_BASE=postgres://postgres@127.0.0.1:5432,
#        SKIP_REPORT=1 (only part 2), SKIP_IMPORT=1 (only part 1)
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
cd "$(dirname "$0")/.."
RUNS=${RUNS:-2}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
CLIENTS=${CLIENTS:-8}
ROWS=${ROWS:-1000000}
PG_BASE=${PG_BASE:-postgres://postgres@127.0.0.1:5432}
for tool in psql pgbench python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -q -p switchboard-server -p switchboard-bench
fi
SB=$PWD/target/release/switchboard
BENCH=$PWD/target/release/switchboard-bench
WORK=$(mktemp -d)
DBS="sb_ceiling sb_ceiling_full sb_ceiling_report"
q() { psql -X -q -v ON_ERROR_STOP=1 "$PG_BASE/$1" -c "$2" >/dev/null; }
cleanup() {
  for d in $DBS; do psql -X -q "$PG_BASE/postgres" -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; } # jiffies, whole machine
fresh() { q postgres "DROP DATABASE IF EXISTS $1"; q postgres "CREATE DATABASE $1 ${2:+TEMPLATE $2}"; }

echo "== machine: $(nproc) cores; $(date -u +%F); $(psql -X -tA "$PG_BASE/postgres" -c 'SHOW server_version')"

# The schema comes from the migrations, the leads from the importer (100,000, as in the loop).
python3 - "$WORK/leads.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("phone,name,priority\n")
    for i in range(100000):
        f.write("+1212%07d,Lead %d,%s\n" % (1000000 + i, i, ("urgent", "high", "medium", "low")[i % 4]))
PY
fresh sb_ceiling
SWITCHBOARD_DATABASE_URL=$PG_BASE/sb_ceiling SWITCHBOARD_ADMIN_PASSWORD=ceiling-password-1 SWITCHBOARD_LOG=warn \
  "$SB" import "$WORK/leads.csv" --list Queue 2>&1 | tail -1
read -r CLIENT LO HI < <(psql -X -tA -F' ' "$PG_BASE/sb_ceiling" -c "SELECT client_id, MIN(id), MAX(id) FROM leads GROUP BY client_id")

# 1. The report statement, with K reports per statement on K leads of disjoint ranges (each
# statement picks one lead per range at random), each lead handed out in a batch first.
"$BENCH" report-statement > "$WORK/statement.sql"
q sb_ceiling "UPDATE leads SET status = 'calling', batch_id = 'b0c8c2f4-4a57-4a8e-9e2e-5d0c2b2f0a11', leased_until = now() + interval '1 hour'"
q sb_ceiling "DELETE FROM lead_status_deltas"
for k in 1 4 8; do
  python3 - "$WORK/statement.sql" "$k" "$CLIENT" "$LO" "$HI" > "$WORK/report$k.sql" <<'PY'
import re, sys
text, k, client, lo, hi = open(sys.argv[1]).read().strip(), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
stride = (hi - lo + 1) // k
leads = [":l%d" % i for i in range(k)]
def arr(items, cast):
    return "ARRAY[%s]::%s" % (", ".join(items), cast)
# pgbench reads ":name" as a variable: a space after each colon of the JSON.
meta = "'{\"surface\": \"dialer\", \"disposition\": \"CONNECTED\", \"reason\": null, \"user_message\": \"bench\", \"batch_id\": null, \"agent_phone\": null}'"
# The statement's parameters in order (crates/store/src/reports.rs): the clients and their rules
# as the writer read them (none stored), one array per column of the reports, the time, and
# the phones the reports expect (none).
args = [arr([client], "bigint[]"), arr(["NULL"], "jsonb[]"), arr(leads, "bigint[]"),
        arr(["now()"] * k, "timestamptz[]"), arr(["'CONNECTED'"] * k, "text[]"),
        arr(["NULL"] * k, "bigint[]"), arr(["'answered'"] * k, "text[]"),
        arr(["NULL"] * k, "timestamptz[]"), arr(["NULL"] * k, "bigint[]"),
        arr(["'bench'"] * k, "text[]"), arr([client] * k, "bigint[]"),
        arr(["'dialer'"] * k, "text[]"), arr(["'dialer-' || %s || '-' || :u" % l for l in leads], "text[]"),
        arr(["'outbound'"] * k, "text[]"), arr(["NULL"] * k, "text[]"), arr(["NULL"] * k, "bigint[]"),
        arr(["'completed'"] * k, "text[]"), arr(["'CONNECTED'"] * k, "text[]"),
        arr(["now()"] * k, "timestamptz[]"), arr(["now()"] * k, "timestamptz[]"),
        arr(["NULL"] * k, "text[]"), arr([meta] * k, "jsonb[]"), arr(["NULL"] * k, "bigint[]"),
        arr(["NULL"] * k, "text[]"), arr(["0"] * k, "bigint[]"), arr(["'bench'"] * k, "text[]"), "now()",
        arr(["NULL"] * k, "text[]")]
text = re.sub(r"\$(\d+)(?:::[a-z]+\[\])?", lambda m: args[int(m.group(1)) - 1], text)
print("\\set b random(0, %d)" % (stride - 1))
for i in range(k):
    print("\\set l%d %d + :b" % (i, lo + i * stride))
print("\\set u random(1, 1000000000000)")
print(text + ";")
PY
done
echo "== 1. the report statement, pgbench, ${SECONDS_PER_RUN} s per run"
for run in $(seq 1 "$RUNS"); do
  [[ -n "${SKIP_REPORT:-}" ]] && break
  for variant in "1 1" "4 1" "8 1" "4 2"; do
    read -r k clients <<<"$variant"
    fresh sb_ceiling_report sb_ceiling
    q sb_ceiling_report "VACUUM ANALYZE"
    q sb_ceiling_report "CHECKPOINT"
    c0=$(busy)
    out=$(pgbench -h 127.0.0.1 -U postgres -n -M prepared --max-tries=10 -c "$clients" -j "$clients" -T "$SECONDS_PER_RUN" -f "$WORK/report$k.sql" sb_ceiling_report 2>&1)
    c1=$(busy)
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
    lat=$(sed -n 's/^latency average = \(.*\)/\1/p' <<<"$out")
    stored=$(psql -X -tA "$PG_BASE/sb_ceiling_report" -c "SELECT COUNT(*) FROM calls WHERE provider = 'dialer'")
    [[ -n "$n" && "$stored" -gt 0 ]] || { echo "$out" | tail -5; echo "no attempt stored"; exit 1; }
    awk -v r="$run" -v k="$k" -v c="$clients" -v t="$tps" -v l="$lat" -v cpu="$((c1 - c0))" -v n="$n" -v s="$stored" 'BEGIN {
      printf "run %d  %d per statement, %d client(s)  %6.0f reports/s  statement latency avg %s  CPU per statement %.3f ms, per report %.3f ms (whole machine)  %d attempts stored\n", r, k, c, t * k, l, cpu * 10 / n, cpu * 10 / (n * k), s }'
  done
done

[[ -n "${SKIP_IMPORT:-}" ]] && exit 0
# 2. The import's statements, from staging: 20,000 rows per statement and a commit every
# 100,000 rows, as `switchboard import` does (no list, as in bench/import.sh), on four versions
# of the schema; and `switchboard import` itself, from the CSV file, into the real schema.
echo "== 2. INSERT INTO leads ... SELECT ... ON CONFLICT DO NOTHING of $ROWS generated rows, 20,000 per statement"
python3 bench/gen-leads.py "$ROWS" "$WORK/import.csv"
for schema in full full_2_sessions no_fk pk_and_phone plain; do
  db=sb_ceiling_full
  fresh "$db" sb_ceiling
  q "$db" "TRUNCATE leads CASCADE"
  q "$db" "CREATE UNLOGGED TABLE stage (n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, phone TEXT, name TEXT, email TEXT, priority TEXT, tags TEXT)"
  psql -X -q -v ON_ERROR_STOP=1 "$PG_BASE/$db" -c "\\copy stage (phone, name, email, priority, tags) FROM '$WORK/import.csv' WITH (FORMAT csv, HEADER true)"
  case $schema in
    no_fk) q "$db" "ALTER TABLE leads DROP CONSTRAINT leads_client_id_fkey, DROP CONSTRAINT leads_list_id_fkey, DROP CONSTRAINT leads_assigned_user_id_fkey" ;;
    pk_and_phone) q "$db" "ALTER TABLE leads DROP CONSTRAINT leads_client_id_fkey, DROP CONSTRAINT leads_list_id_fkey, DROP CONSTRAINT leads_assigned_user_id_fkey;
        DROP TRIGGER leads_count_insert ON leads;
        DROP INDEX leads_tags_idx, leads_client_created_idx, leads_client_status_idx, leads_list_idx, leads_queue_idx" ;;
    plain) q "$db" "CREATE TABLE plain (client_id BIGINT, list_id BIGINT, phone TEXT, name TEXT, email TEXT, priority TEXT, tags JSONB, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ)" ;;
  esac
  q "$db" "VACUUM ANALYZE stage"
  q "$db" "CHECKPOINT"
  # Statements for session 0 (every chunk) and session 1 (none); full_2_sessions splits the
  # chunks between two concurrent sessions (alternating), each chunk committed on its own.
  : > "$WORK/move.0.sql"
  : > "$WORK/move.1.sql"
  for ((lo = 0; lo < ROWS; lo += 20000)); do
    range="n > $lo AND n <= $((lo + 20000))"
    insert="INSERT INTO leads (client_id, list_id, phone, name, email, priority, tags, created_at, updated_at) \
SELECT $CLIENT, NULL::BIGINT, phone, name, email, priority, jsonb_build_array(tags), now(), now() FROM stage \
WHERE $range ON CONFLICT (client_id, phone) WHERE deleted_at IS NULL DO NOTHING;"
    [[ $schema == plain ]] && insert="INSERT INTO plain SELECT $CLIENT, NULL::BIGINT, phone, name, email, \
priority, jsonb_build_array(tags), now(), now() FROM stage WHERE $range;"
    if [[ $schema == full_2_sessions ]]; then
      echo "BEGIN; $insert COMMIT;" >> "$WORK/move.$(( (lo / 20000) % 2 )).sql"
    else
      ((lo % 100000 == 0)) && echo "BEGIN;" >> "$WORK/move.0.sql"
      echo "$insert" >> "$WORK/move.0.sql"
      (((lo + 20000) % 100000 == 0 || lo + 20000 >= ROWS)) && echo "COMMIT;" >> "$WORK/move.0.sql"
    fi
  done
  t0=$(date +%s.%N)
  psql -X -q -v ON_ERROR_STOP=1 "$PG_BASE/$db" -f "$WORK/move.0.sql" >/dev/null &
  psql -X -q -v ON_ERROR_STOP=1 "$PG_BASE/$db" -f "$WORK/move.1.sql" >/dev/null
  wait $!
  t1=$(date +%s.%N)
  moved=$(psql -X -tA "$PG_BASE/$db" -c "SELECT COUNT(*) FROM leads")
  [[ $schema == plain ]] && moved=$(psql -X -tA "$PG_BASE/$db" -c "SELECT COUNT(*) FROM plain")
  awk -v s="$schema" -v a="$t0" -v b="$t1" -v rows="$ROWS" -v m="$moved" 'BEGIN {
    printf "%-16s %6.2f s  %8.0f rows/s  (%d rows stored)\n", s, b - a, rows / (b - a), m }'
done
fresh sb_ceiling_full sb_ceiling
q sb_ceiling_full "TRUNCATE leads CASCADE"
q sb_ceiling_full "CHECKPOINT"
t0=$(date +%s.%N)
SWITCHBOARD_DATABASE_URL=$PG_BASE/sb_ceiling_full SWITCHBOARD_ADMIN_PASSWORD=ceiling-password-1 SWITCHBOARD_LOG=warn \
  "$SB" import "$WORK/import.csv" >/dev/null 2>&1
t1=$(date +%s.%N)
moved=$(psql -X -tA "$PG_BASE/sb_ceiling_full" -c "SELECT COUNT(*) FROM leads")
awk -v a="$t0" -v b="$t1" -v rows="$ROWS" -v m="$moved" 'BEGIN {
  printf "%-16s %6.2f s  %8.0f rows/s  (%d rows stored; switchboard import FILE, parsing included)\n", "ours", b - a, rows / (b - a), m }'
