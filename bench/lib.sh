# Shared by the bench scripts that time a running server: source it after setting SB (the
# server binary), PORT, PUBLIC (http://127.0.0.1:$PORT), WORK (a scratch folder) and, for
# median_of, RUNS. Other
# settings the server needs (a provider's) the caller exports as SWITCHBOARD_* variables first.
# On exit the server is stopped and WORK removed.

SERVER_PID=
cleanup() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
start_server() { # $1 = database URL
  SWITCHBOARD_DATABASE_URL="$1" SWITCHBOARD_LISTEN=127.0.0.1:$PORT SWITCHBOARD_PUBLIC_URL=$PUBLIC \
  SWITCHBOARD_RATE_LIMITS=off SWITCHBOARD_ADMIN_PASSWORD=bench-password-1 SWITCHBOARD_LOG=warn \
    "$SB" serve > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "$PUBLIC/health" >/dev/null && return 0; sleep 0.1; done
  echo "server did not start"; cat "$WORK/server.log"; exit 1
}
binary_of() { # $1 = a name in BUILDS: the binary SB_<name> names, else this checkout's build
  local var="SB_$1"
  echo "${!var:-target/release/switchboard}"
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
median_of() { # $1 = path, $2 = token: RUNS requests, prints the median seconds
  for _ in $(seq 1 "$RUNS"); do
    curl -sf -o /dev/null -w '%{time_total}\n' "$PUBLIC$1" -H "authorization: Bearer $2" || echo FAILED
  done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
token() { # $1 = login, $2 = password
  curl -sf "$PUBLIC/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
databases() { # the databases a bench runs on: SQLite, and PostgreSQL unless PG is empty
  if [[ -n "${PG:-}" ]]; then echo "sqlite postgres"; else echo sqlite; fi
}
fresh_database() { # $1 = sqlite or postgres, $2 = a name: a fresh database's URL (PostgreSQL: under $PG)
  if [[ $1 == sqlite ]]; then
    echo "sqlite://$WORK/$2.db"
  else
    PGOPTIONS="-c client_min_messages=warning" psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS sb_bench_$2" -c "CREATE DATABASE sb_bench_$2" >&2
    echo "$PG/sb_bench_$2"
  fi
}
drop_database() { # $1 = sqlite or postgres, $2 = the name given to fresh_database
  if [[ $1 == postgres ]]; then psql -q "$PG/postgres" -c "DROP DATABASE sb_bench_$2" >&2; fi
}
