#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 for the ledger tests.
#
#   eval "$(.ci/postgres.sh)"      # exports VERIFIER_TEST_PG_URL and PGTEST_DIR
#   pytest -m postgres tests/ledger
#   .ci/postgres.sh stop           # stops the cluster and deletes its directory
#
# Installs Debian's postgresql if no server binaries are found. Runs the server
# as the "postgres" user (initdb refuses root), listening only on 127.0.0.1 on
# a free port, with trust auth restricted to that address.
set -euo pipefail

STATE_FILE="${TMPDIR:-/tmp}/verifier-pgtest.state"

find_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1
}

if [ "${1:-}" = "stop" ]; then
  [ -f "$STATE_FILE" ] || { echo "no test cluster running" >&2; exit 0; }
  # shellcheck disable=SC1090
  . "$STATE_FILE"
  su postgres -s /bin/sh -c "'$BINDIR/pg_ctl' -D '$PGTEST_DIR/data' -m fast stop" >&2 || true
  rm -rf "$PGTEST_DIR" "$STATE_FILE"
  exit 0
fi

BINDIR="$(find_bindir || true)"
if [ -z "$BINDIR" ] || [ ! -x "$BINDIR/initdb" ]; then
  echo "installing postgresql (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  BINDIR="$(find_bindir)"
fi
id postgres >/dev/null 2>&1 || useradd --system --home /nonexistent --shell /usr/sbin/nologin postgres

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
PGTEST_DIR="$(mktemp -d "${TMPDIR:-/tmp}/verifier-pg.XXXXXX")"
chown postgres "$PGTEST_DIR"
chmod 700 "$PGTEST_DIR"
su postgres -s /bin/sh -c "'$BINDIR/initdb' -D '$PGTEST_DIR/data' -U postgres -A trust --no-sync" >&2
cat >> "$PGTEST_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$PGTEST_DIR'
fsync = on
max_connections = 50
CONF
cat > "$PGTEST_DIR/data/pg_hba.conf" <<HBA
local all all trust
host  all all 127.0.0.1/32 trust
HBA
su postgres -s /bin/sh -c "'$BINDIR/pg_ctl' -D '$PGTEST_DIR/data' -l '$PGTEST_DIR/server.log' -w -t 60 start" >&2
su postgres -s /bin/sh -c "'$BINDIR/createdb' -h 127.0.0.1 -p $PORT -U postgres verifier_test" >&2

cat > "$STATE_FILE" <<STATE
BINDIR='$BINDIR'
PGTEST_DIR='$PGTEST_DIR'
STATE
echo "export PGTEST_DIR='$PGTEST_DIR'"
echo "export VERIFIER_TEST_PG_URL='postgresql+psycopg://postgres@127.0.0.1:$PORT/verifier_test'"
