#!/usr/bin/env bash
# What PostgreSQL itself can do with the statements of the two throughput targets that are not
# met, with no Switchboard process in the way: the ceiling any server code could approach on
# this machine with this schema, and how much of it each part of the schema costs.
#
#  1. The external dialer's report (issue "the dialer", target 3,500 numbers/s): the exact
#     transaction `report-result` runs (read the number with the schedule's switch, insert the
#     attempt into the call log, update the lead, commit), replayed by pgbench with 8 clients on
#     random leads. Once on the real schema, once on a stripped copy (no foreign keys on calls,
#     no status-count trigger on leads, only the indexes these statements need). pgbench's own
#     CPU is counted with the database's (whole machine), as the benchmark's clients are.
#     next-batch and the HTTP server come on top of this. Then the same reports as the batch
#     writer sends them since session 7: 8 reports per transaction in multi-row statements
#     (numbers and settings, one INSERT of the attempts, one UPDATE ... FROM VALUES of the
#     leads), from 1 and 2 clients (the server runs one writer).
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
  cargo build --release -q -p switchboard-server
fi
SB=$PWD/target/release/switchboard
WORK=$(mktemp -d)
DBS="sb_ceiling sb_ceiling_full sb_ceiling_stripped"
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

# 1. The report, as `report-result` sends it (crates/server/src/routes/batches.rs): the lead's
# status flips each time so the status-count trigger fires as it does in the loop.
cat > "$WORK/report.sql" <<EOF
\set lid random($LO, $HI)
\set u random(1, 1000000000000)
BEGIN;
SELECT id, phone, batch_id, (SELECT rules FROM dialer_settings WHERE client_id = $CLIENT), (SELECT enabled FROM schedules WHERE client_id = $CLIENT), (SELECT version FROM schedules WHERE client_id = $CLIENT) FROM leads WHERE client_id = $CLIENT AND deleted_at IS NULL AND id = :lid;
INSERT INTO calls (client_id, provider, provider_call_id, direction, from_number, to_number, lead_id, user_id, status, surface_status, started_at, ended_at, language, metadata, created_at, updated_at, campaign_id, instance_id, slots, notes) VALUES ($CLIENT, 'dialer', 'dialer-' || :lid || '-' || :u, 'outbound', NULL, '+12125550100', :lid, NULL, 'completed', 'CONNECTED', now(), now(), NULL, '{"surface": "dialer", "disposition": "CONNECTED", "reason": null, "user_message": null, "batch_id": "b0c8c2f4-4a57-4a8e-9e2e-5d0c2b2f0a11", "agent_phone": null}', now(), now(), NULL, NULL, 0, NULL) ON CONFLICT (provider, provider_call_id) DO NOTHING RETURNING id, client_id, provider, provider_call_id, direction, from_number, to_number, lead_id, user_id, status, surface_status, started_at, answered_at, ended_at, duration_secs, hangup_cause, recording_url, transcript, notes, language, satisfaction, metadata, created_at, updated_at, campaign_id, instance_id, slots;
UPDATE leads SET attempts = attempts + 1, last_attempt_at = now(), disposition = 'CONNECTED', status = CASE WHEN status = 'answered' THEN 'pending' ELSE 'answered' END, next_attempt_at = NULL, wait_reason = NULL, batch_id = NULL, leased_until = NULL, updated_at = now() WHERE id = :lid RETURNING id, client_id, list_id, phone, name, email, priority, status, disposition, tags, timezone, assigned_user_id, attempts, last_attempt_at, next_attempt_at, notes, created_at, updated_at, deleted_at;
COMMIT;
EOF
# The batch writer's form (crates/server/src/reports.rs): 8 reports in one transaction.
{
  for k in 1 2 3 4 5 6 7 8; do echo "\\set l$k random($LO, $HI)"; done
  echo "\\set u random(1, 1000000000000)"
  vals=""; for k in 1 2 3 4 5 6 7 8; do vals="$vals${vals:+, }(CAST(:l$k AS BIGINT), 'dialer-' || :l$k || '-' || :u)"; done
  echo "BEGIN;"
  echo "SELECT id, phone, batch_id, (SELECT rules FROM dialer_settings WHERE client_id = $CLIENT), (SELECT enabled FROM schedules WHERE client_id = $CLIENT), (SELECT version FROM schedules WHERE client_id = $CLIENT) FROM leads WHERE client_id = $CLIENT AND deleted_at IS NULL AND id IN (:l1, :l2, :l3, :l4, :l5, :l6, :l7, :l8);"
  echo "INSERT INTO calls (client_id, provider, provider_call_id, direction, to_number, lead_id, status, surface_status, started_at, ended_at, metadata, created_at, updated_at, slots) SELECT $CLIENT, 'dialer', v.column2, 'outbound', '+12125550100', v.column1, 'completed', 'CONNECTED', now(), now(), '{\"surface\": \"dialer\", \"disposition\": \"CONNECTED\", \"reason\": null, \"user_message\": null, \"batch_id\": \"b0c8c2f4-4a57-4a8e-9e2e-5d0c2b2f0a11\", \"agent_phone\": null}', now(), now(), 0 FROM (VALUES $vals) AS v ON CONFLICT (provider, provider_call_id) DO NOTHING RETURNING provider_call_id;"
  echo "UPDATE leads SET attempts = attempts + 1, last_attempt_at = now(), disposition = 'CONNECTED', status = CASE WHEN status = 'answered' THEN 'pending' ELSE 'answered' END, next_attempt_at = NULL, wait_reason = NULL, batch_id = NULL, leased_until = NULL, updated_at = now() FROM (VALUES $vals) AS v WHERE leads.id = v.column1 RETURNING leads.id, client_id, list_id, phone, name, email, priority, status, disposition, tags, timezone, assigned_user_id, attempts, last_attempt_at, next_attempt_at, notes, created_at, updated_at, deleted_at;"
  echo "COMMIT;"
} > "$WORK/report8.sql"
STRIP_REPORT="ALTER TABLE calls DROP CONSTRAINT calls_client_id_fkey, DROP CONSTRAINT calls_lead_id_fkey,
  DROP CONSTRAINT calls_user_id_fkey, DROP CONSTRAINT calls_campaign_id_fkey;
DROP TRIGGER leads_count_update ON leads;
DROP INDEX calls_client_direction_status_idx, calls_client_from_idx, calls_client_started_idx,
  calls_client_status_idx, calls_client_to_idx, calls_provider_call_idx, calls_user_idx, calls_live_idx,
  calls_campaign_idx, leads_tags_idx, leads_client_created_idx, leads_client_status_idx, leads_list_idx,
  leads_lease_idx, leads_due_idx;"
echo "== 1. report-result's transaction, pgbench, $CLIENTS clients, ${SECONDS_PER_RUN} s per run"
for run in $(seq 1 "$RUNS"); do
  [[ -n "${SKIP_REPORT:-}" ]] && break
  for variant in full stripped "full 8-per-transaction 1" "full 8-per-transaction 2"; do
    read -r schema per clients <<<"$variant"
    script=$WORK/report.sql k=1
    [[ -n "$per" ]] && script=$WORK/report8.sql k=8
    clients=${clients:-$CLIENTS}
    db=sb_ceiling_$schema
    fresh "$db" sb_ceiling
    [[ $schema == stripped ]] && q "$db" "$STRIP_REPORT"
    q "$db" "VACUUM ANALYZE"
    q "$db" "CHECKPOINT"
    c0=$(busy)
    out=$(pgbench -h 127.0.0.1 -U postgres -n -M prepared --max-tries=10 -c "$clients" -j 2 -T "$SECONDS_PER_RUN" -f "$script" "$db" 2>&1)
    c1=$(busy)
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
    lat=$(sed -n 's/^latency average = \(.*\)/\1/p' <<<"$out")
    awk -v r="$run" -v s="$schema${per:+, $per}" -v c="$clients" -v t="$tps" -v k="$k" -v l="$lat" -v cpu="$((c1 - c0))" -v n="$n" 'BEGIN {
      printf "run %d  %-26s %d clients  %6.0f reports/s  transaction latency avg %s  CPU per report %.2f ms (whole machine)\n", r, s, c, t * k, l, cpu * 10 / (n * k) }'
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
