# bench/pg.sh — sourced by the benchmark scripts for their PostgreSQL mode:
# a private, durable PostgreSQL cluster (fsync=on, synchronous_commit=on,
# full_page_writes=on: what production runs) in a directory of the run,
# on 127.0.0.1:$PG_PORT, stopped by pg_stop.
#
#   pg_start DIR        initdb + start; sets PG_PID (the postmaster) and PG_ADMIN
#   pg_createdb NAME    a fresh database; prints its DSN
#   pg_pids             the postmaster and its backends (for CPU figures)
#   pg_stop
PG_PORT=${PG_PORT:-55439}
pg_bin() {
    local d
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then dirname "$(command -v pg_ctl)"; return; fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
    done
    echo "no PostgreSQL binaries (Debian package postgresql)" >&2
    return 1
}
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
    PG_DIR=$1
    local bin
    bin=$(pg_bin)
    mkdir -p "$PG_DIR"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PG_DIR"
        chmod o+x "$(dirname "$PG_DIR")" # the postgres user must reach it (mktemp -d makes 0700)
    fi
    pg_as "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 120 -o "-c port=$PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR -c max_connections=300 -c shared_buffers=256MB -c fsync=on -c synchronous_commit=on -c full_page_writes=on" start >/dev/null
    PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
    PG_ADMIN="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
}
pg_createdb() {
    psql -q "$PG_ADMIN" -c "CREATE DATABASE $1" >/dev/null
    echo "postgres://postgres@127.0.0.1:$PG_PORT/$1?sslmode=disable"
}
pg_pids() { echo "$PG_PID" $(pgrep -P "$PG_PID"); }
pg_stop() {
    [ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/data/postmaster.pid" ] && pg_as "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}
