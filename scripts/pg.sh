#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, run from the machine's initdb/pg_ctl.
#
#   scripts/pg.sh start DIR PORT [fast]   init DIR when empty, start on 127.0.0.1:PORT, create
#                                         database "aitutor"; prints the DATABASE_URL
#   scripts/pg.sh stop DIR                stop the cluster in DIR
#   scripts/pg.sh freeport                print a free TCP port on 127.0.0.1
#
# initdb refuses to run as root (as CI and these machines do): then the cluster runs as the
# "postgres" user (created when missing), with its socket inside DIR. "fast" turns durability off
# (fsync, synchronous_commit, full_page_writes): for throwaway test clusters only.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

find_bin() {
  local name=$1 dir
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/$name" ] && { echo "$dir/$name"; return; }
  done
  return 1
}

ensure_postgres() {
  if find_bin initdb >/dev/null && find_bin pg_ctl >/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pg.sh: PostgreSQL not found; installing it with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
    find_bin initdb >/dev/null || die "initdb still missing after installing postgresql"
    return
  fi
  die "PostgreSQL is not installed. Install it with: sudo apt-get install -y postgresql (or set DATABASE_URL)"
}

# as_owner runs a command as the cluster's owner: this user, or "postgres" when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

freeport() {
  local port
  for _ in $(seq 1 200); do
    port=$(( 20000 + RANDOM % 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  die "no free port found"
}

start() {
  local dir=$1 port=$2 mode=${3:-}
  ensure_postgres
  local initdb pg_ctl
  initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres "$dir"; chmod 700 "$dir"
    runuser -u postgres -- test -w "$dir" ||
      die "user postgres cannot reach $dir: make its parent folders traversable (chmod o+x)"
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_owner "$initdb" -D "$dir" -U aitutor -A trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
      as_owner "$initdb" -D "$dir" -U aitutor -A trust -E UTF8 >"$dir.initdb.log" 2>&1 ||
      { cat "$dir.initdb.log" >&2; die "initdb failed"; }
  fi
  local opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=600 -c shared_buffers=128MB"
  if [ "$mode" = fast ]; then
    opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  if ! as_owner "$pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_owner "$pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null ||
      { tail -20 "$dir/server.log" >&2; die "pg_ctl start failed (log: $dir/server.log)"; }
  fi
  local psql
  psql=$(find_bin psql) || die "psql not found"
  if ! "$psql" -h 127.0.0.1 -p "$port" -U aitutor -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'aitutor'" | grep -q 1; then
    "$psql" -h 127.0.0.1 -p "$port" -U aitutor -d postgres -qc "CREATE DATABASE aitutor" >/dev/null
  fi
  echo "postgres://aitutor@127.0.0.1:$port/aitutor?sslmode=disable"
}

stop() {
  local dir=$1
  [ -f "$dir/postmaster.pid" ] || return 0
  as_owner "$(find_bin pg_ctl)" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) [ $# -ge 3 ] || die "usage: pg.sh start DIR PORT [fast]"; start "$2" "$3" "${4:-}" ;;
  stop) [ $# -ge 2 ] || die "usage: pg.sh stop DIR"; stop "$2" ;;
  freeport) freeport ;;
  *) die "usage: pg.sh start DIR PORT [fast] | stop DIR | freeport" ;;
esac
