#!/usr/bin/env bash
# The concurrency tests and the server's smoke test through a real PgBouncer in transaction mode
# (Debian's package) in front of the machine's PostgreSQL, on a fresh database. The tests reach
# PostgreSQL through PgBouncer (DATABASE_URL) and directly for LISTEN and migrations
# (DATABASE_DIRECT_URL), with DATABASE_POOL_MODE=transaction, as a production server would.
set -euo pipefail
cd "$(dirname "$0")/../.."

PGHOST=127.0.0.1
PGPORT=5432

# Debian installs it in /usr/sbin, which is not on every PATH.
PATH="$PATH:/usr/sbin:/usr/local/sbin"
if ! command -v pgbouncer >/dev/null; then
  echo "pgbouncer is not installed; installing Debian's package"
  # The package's service stays down where policy-rc.d forbids starting services (containers); this
  # script runs its own PgBouncer either way.
  apt-get install -y pgbouncer || { apt-get update && apt-get install -y pgbouncer; }
fi
pgbouncer --version | head -n 1

if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  echo "PostgreSQL is not running; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
fi

database="contacts_pgbouncer_$(date +%s)_$$"
workdir="$(mktemp -d)"
bouncer_pid=""
cleanup() {
  if [ -n "$bouncer_pid" ] && kill -0 "$bouncer_pid" 2>/dev/null; then
    kill -INT "$bouncer_pid" 2>/dev/null || true # INT: PgBouncer's safe shutdown
    for _ in $(seq 1 50); do kill -0 "$bouncer_pid" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$bouncer_pid" 2>/dev/null || true
  fi
  psql -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT
psql -v ON_ERROR_STOP=1 -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "CREATE DATABASE $database"

port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
# No ignore_startup_parameters: a client that sends a session setting at startup (statement_timeout,
# options) must fail here, not lose the setting silently.
cat >"$workdir/pgbouncer.ini" <<INI
[databases]
$database = host=$PGHOST port=$PGPORT dbname=$database user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
; Clients are the tests on loopback; PgBouncer logs in to PostgreSQL as postgres (trust on loopback).
auth_type = any
pool_mode = transaction
; The tests open a few pools of 10 (an in-process app, two server processes) plus the smoke test's servers.
max_client_conn = 500
default_pool_size = 20
INI
chmod 600 "$workdir/pgbouncer.ini"

# PgBouncer refuses to run as root: it reads its configuration, then switches to postgres.
run_as=()
if [ "$(id -u)" = 0 ]; then run_as=(-u postgres); fi
pgbouncer "${run_as[@]}" "$workdir/pgbouncer.ini" >"$workdir/pgbouncer.log" 2>&1 &
bouncer_pid=$!
for _ in $(seq 1 50); do
  grep -q 'process up' "$workdir/pgbouncer.log" && break
  kill -0 "$bouncer_pid" 2>/dev/null || { cat "$workdir/pgbouncer.log"; exit 1; }
  sleep 0.1
done
grep -q 'process up' "$workdir/pgbouncer.log" || { cat "$workdir/pgbouncer.log"; exit 1; }
echo "PgBouncer (transaction mode) on 127.0.0.1:$port in front of $PGHOST:$PGPORT/$database"

pooled="postgres://postgres@127.0.0.1:$port/$database"
status=0
DATABASE_URL="$pooled" \
  DATABASE_DIRECT_URL="postgres://postgres@$PGHOST:$PGPORT/$database" \
  DATABASE_POOL_MODE=transaction \
  PGBOUNCER_URL="$pooled" \
  npm test -- test/concurrency test/process/pgbouncer-smoke.test.ts || status=$?

if [ "$status" -ne 0 ]; then
  echo "--- PgBouncer log"
  tail -n 50 "$workdir/pgbouncer.log"
fi
exit "$status"
