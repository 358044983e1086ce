#!/usr/bin/env bash
# bench/ingest.sh — durable SMTP ingest: posthorn vs Postfix (+Dovecot) vs
# smtp-sink, interleaved in one run, with ../shared/bench/smtp-ingest.sh.
#
#   bench/ingest.sh [--store postgres] [-n MSGS] [-s KB] [-r ROUNDS] [-c "10 50"] [-t "TARGETS"]
#                   [-D DB_CPUS] [-G]
#
# --store postgres adds posthorn on PostgreSQL (bench/pg.sh: a private,
# durable cluster, fsync=on, synchronous_commit=on):
#   posthorn-pg        one node (dev mode -store-dsn, 127.0.0.7), all to
#                      alice, like posthorn (the embedded store)
#   posthorn-pg-2rcpt  the same node, two streams at once: half the messages
#                      over half the sessions to alice, the other half to bob
#   posthorn-pg2       two nodes on one database (127.0.0.8 and .9), the
#                      same two streams, one to each node
# posthorn-pg2 / posthorn-pg-2rcpt is "two nodes against one" on the same
# work and the same 2 cores. Their cpu_ms_per_msg includes PostgreSQL's
# CPU; db_cpu_ms_per_msg is PostgreSQL's alone. -t picks targets (default
# "smtp-sink posthorn postfix"; with --store postgres "posthorn posthorn-pg
# posthorn-pg-2rcpt posthorn-pg2"); each round runs them in that order.
#
# CPU shares (docs/BENCHMARKS.md, "Session 7"): the two nodes of
# posthorn-pg2 each get GOMAXPROCS = half the CPUs (two nodes share the
# machine's CPU budget); one node keeps Go's default, all of them. -G
# leaves the two nodes Go's default too (each sizes its scheduler for
# every CPU). -D confines PostgreSQL (the postmaster, so every backend)
# to DB_CPUS (taskset -c syntax, e.g. 1), so its backends take turns
# there; the nodes and the load generator are not confined. Both
# settings, and a GOMAXPROCS set by the caller (which every node but
# posthorn-pg2's inherits), are in the results' header line.
#
# Needs root on Debian (refstack start, apt-get for postfix). posthorn runs in
# dev mode on 127.0.0.5:10025, smtp-sink on 127.0.0.6:10025, the reference
# stack (Postfix -> LMTP -> Dovecot) on 127.0.0.1:2525. Every target is on
# loopback. Prints one smtp-ingest line per run, then medians and ratios;
# the raw lines go to bench/results/ingest-<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
N=20000 KB=10 ROUNDS=3 SESSIONS="10 50" STORE=sqlite TARGETS= DB_CPUS= NODE_PROCS=$(($(nproc) / 2 > 0 ? $(nproc) / 2 : 1))
if [ "${1:-}" = --store ]; then STORE=$2; shift 2; fi
case $STORE in sqlite | postgres) ;; *) echo "--store: sqlite or postgres" >&2; exit 2 ;; esac
while getopts "n:s:r:c:t:D:G" o; do
    case $o in
    n) N=$OPTARG ;; s) KB=$OPTARG ;; r) ROUNDS=$OPTARG ;; c) SESSIONS=$OPTARG ;; t) TARGETS=$OPTARG ;;
    D) DB_CPUS=$OPTARG ;; G) NODE_PROCS= ;; *) exit 2 ;;
    esac
done
if [ -z "$TARGETS" ]; then
    if [ "$STORE" = postgres ]; then TARGETS="posthorn posthorn-pg posthorn-pg-2rcpt posthorn-pg2"; else TARGETS="smtp-sink posthorn postfix"; fi
fi
has() { case " $TARGETS " in *" $1 "*) return 0 ;; esac; return 1; }
SHARED=${SHARED:-../shared}
INGEST=$SHARED/bench/smtp-ingest.sh
OUT=bench/results/ingest-$(date +%Y%m%d-%H%M%S).txt
mkdir -p bench/results
WORK=$(mktemp -d /tmp/posthorn-bench.XXXXXX)
PIDS_TO_KILL=()
. bench/pg.sh
cleanup() {
    for p in "${PIDS_TO_KILL[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS_TO_KILL[@]}"; do wait "$p" 2>/dev/null || true; done
    pg_stop
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v smtp-source >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null
if has postfix; then
    "$SHARED/refstack/start.sh" >/dev/null
    . /var/lib/refstack/target.env
fi

CGO_ENABLED=0 go build -o "$WORK/posthorn" ./cmd/posthorn
# start_dev NAME IP [ARGS]: posthorn dev in $WORK/NAME; sets DEV_PID.
start_dev() {
    local name=$1 ip=$2; shift 2
    "$WORK/posthorn" dev -dir "$WORK/$name" -addr "$ip" "$@" >"$WORK/$name.log" 2>&1 &
    DEV_PID=$!; PIDS_TO_KILL+=("$DEV_PID")
    for _ in $(seq 300); do grep -q '"ports"' "$WORK/$name/dev.json" 2>/dev/null && (exec 3<>"/dev/tcp/$ip/10025") 2>/dev/null && return 0; sleep 0.1; done
    cat "$WORK/$name.log"; exit 1
}
start_dev dev 127.0.0.5
PH_PID=$DEV_PID
if has posthorn-pg || has posthorn-pg-2rcpt || has posthorn-pg2; then
    pg_start "$WORK/pg"
    if [ -n "$DB_CPUS" ]; then
        # Backends started later inherit the postmaster's CPUs; a helper
        # process that exits meanwhile is no error.
        for p in $(pg_pids); do
            taskset -p -c "$DB_CPUS" "$p" >/dev/null 2>&1 || ! kill -0 "$p" 2>/dev/null || { echo "taskset -c $DB_CPUS $p failed" >&2; exit 1; }
        done
    fi
    if has posthorn-pg || has posthorn-pg-2rcpt; then
        start_dev pg1 127.0.0.7 -store-dsn "$(pg_createdb bench_one)"
        PG1_PID=$DEV_PID
    fi
    if has posthorn-pg2; then
        DSN2=$(pg_createdb bench_two)
        # Each of the two nodes gets its share of the CPUs (empty: Go's default).
        GOMAXPROCS=$NODE_PROCS start_dev pg2a 127.0.0.8 -store-dsn "$DSN2"
        PG2A_PID=$DEV_PID
        # Node B keeps node A's demo passwords (the accounts are shared).
        mkdir -p "$WORK/pg2b" && cp "$WORK/pg2a/dev.json" "$WORK/pg2b/dev.json"
        GOMAXPROCS=$NODE_PROCS start_dev pg2b 127.0.0.9 -store-dsn "$DSN2"
        PG2B_PID=$DEV_PID
    fi
fi
if has smtp-sink; then
    SINK_USER=(); [ "$(id -u)" = 0 ] && SINK_USER=(-u nobody)   # smtp-sink refuses to run as root
    smtp-sink "${SINK_USER[@]}" 127.0.0.6:10025 1000 >/dev/null 2>&1 &
    SINK_PID=$!; PIDS_TO_KILL+=("$SINK_PID")
    up() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
    for _ in $(seq 50); do up 127.0.0.6 10025 && break; sleep 0.1; done
    up 127.0.0.6 10025 || { echo "smtp-sink did not start" >&2; exit 1; }
fi

count_cmd() { echo "'$WORK/posthorn' message count -config '$WORK/$1/posthorn.toml' alice@example.test"; }
PH_COUNT=$(count_cmd dev)
PF_COUNT="doveadm mailbox status -u alice@example.test messages INBOX | tr -dc 0-9"
has postfix && PF_PIDS=$(pgrep -d, -x master),$(pgrep -d, -x dovecot)

# CPU seconds of PostgreSQL so far: the postmaster, its backends and its
# reaped children (utime+stime+cutime+cstime).
HZ=$(getconf CLK_TCK)
pg_cpu() {
    local t=0 p f
    for p in $(pg_pids); do
        read -r -a f < <(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + f[11] + f[12] + f[13] + f[14]))
    done
    awk -v t="$t" -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}'
}
# with_db_cpu N CMD...: runs an smtp-ingest command (node CPU only) and
# adds PostgreSQL's CPU: server_cpu_s and cpu_ms_per_msg then cover node
# and database, db_cpu_ms_per_msg the database alone. Peak memory stays the
# node's.
with_db_cpu() {
    local n=$1 before line; shift
    before=$(pg_cpu)
    line=$("$@")
    awk -v db="$(awk -v a="$before" -v b="$(pg_cpu)" 'BEGIN {print b - a}')" -v n="$n" '{
        for (i = 2; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] == "server_cpu_s") { cpu = kv[2] + db; $i = sprintf("server_cpu_s=%.2f", cpu) }
            if (kv[1] == "cpu_ms_per_msg") $i = sprintf("cpu_ms_per_msg=%.3f", (kv[2] * n / 1000 + db) * 1000 / n)
        }
        printf "%s db_cpu_ms_per_msg=%.3f\n", $0, db * 1000 / n
    }' <<<"$line" | tee -a "$OUT"
}
# Two streams at once, each half the messages over half the sessions:
# one to alice, one to bob (different mailboxes, as most concurrent mail
# is), to NODE_A and NODE_B (dev directory names; the same one for the
# one-node baseline). One line for the pair: all messages over the longer
# wall time, CPU of the node(s) and PostgreSQL summed.
two_streams() { # LABEL SESSIONS NODE_A NODE_B
    local label=$1 c=$2 na=$3 nb=$4 half=$((N / 2)) before after a b cpu0 cpu1 pids
    before=$(bash -c "$(count_cmd "$na") ; $(count_cmd "$na" | sed 's/alice@/bob@/')" | awk "{s += \$1} END {print s + 0}")
    cpu0=$(pg_cpu)
    pids=$(node_pid "$na"); [ "$nb" = "$na" ] || pids="$pids,$(node_pid "$nb")"
    "$INGEST" "$(node_ip "$na"):10025" -n "$half" -s "$KB" -c $((c / 2)) -t alice@example.test -p "$pids" -l a >"$WORK/two-a" &
    a=$!
    "$INGEST" "$(node_ip "$nb"):10025" -n "$half" -s "$KB" -c $((c / 2)) -t bob@example.test -l b >"$WORK/two-b" &
    b=$!
    wait "$a" "$b"
    cpu1=$(pg_cpu)
    after=$(bash -c "$(count_cmd "$na") ; $(count_cmd "$na" | sed 's/alice@/bob@/')" | awk "{s += \$1} END {print s + 0}")
    cat "$WORK/two-a" "$WORK/two-b" | awk -v label="$label/c$c" -v kb="$KB" -v c="$c" -v stored=$((after - before)) -v db="$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {print b - a}')" '
        { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[NR, kv[1]] = kv[2] } }
        END {
            n = v[1, "msgs"] + v[2, "msgs"]; s = v[1, "secs"] > v[2, "secs"] ? v[1, "secs"] : v[2, "secs"]
            cpu = v[1, "server_cpu_s"] + db
            printf "smtp-ingest label=%s target=two-streams tool=smtp-source size_kb=%s msgs=%d sessions=%s secs=%.2f msgs_per_s=%.1f errors=%d stored=%d e2e_secs=%.2f e2e_msgs_per_s=%.1f server_cpu_s=%.2f cpu_ms_per_msg=%.3f server_pss_peak_mb=%.1f db_cpu_ms_per_msg=%.3f\n",
                label, kb, n, c, s, n / s, v[1, "errors"] + v[2, "errors"], stored, s, stored / s, cpu, cpu * 1000 / n,
                v[1, "server_pss_peak_mb"], db * 1000 / n
        }' | tee -a "$OUT"
}
node_ip() { case $1 in pg1) echo 127.0.0.7 ;; pg2a) echo 127.0.0.8 ;; pg2b) echo 127.0.0.9 ;; esac; }
node_pid() { case $1 in pg1) echo "$PG1_PID" ;; pg2a) echo "$PG2A_PID" ;; pg2b) echo "$PG2B_PID" ;; esac; }

echo "# posthorn $(git rev-parse --short HEAD) $(date -u +%FT%TZ) N=$N KB=$KB store=$STORE targets='$TARGETS' db_cpus=${DB_CPUS:-all} pg2_node_procs=${NODE_PROCS:-default} env_gomaxprocs=${GOMAXPROCS:-unset} load=$(cut -d' ' -f1-3 /proc/loadavg) cores=$(nproc)" | tee "$OUT"
for c in $SESSIONS; do
    for r in $(seq "$ROUNDS"); do
        # Even rounds run the targets in reverse order, so that neither
        # side of a ratio always runs first (a warm cache, a neighbour's
        # burst): the summary's per-round ratios pair them up.
        order=$TARGETS
        [ $((r % 2)) = 0 ] && order=$(tr ' ' '\n' <<<"$TARGETS" | tac | tr '\n' ' ')
        for target in $order; do
            case $target in
            smtp-sink) "$INGEST" 127.0.0.6:10025 -n "$N" -s "$KB" -c "$c" -t alice@example.test -p "$SINK_PID" -l "smtp-sink/c$c" -o "$OUT" ;;
            posthorn) "$INGEST" 127.0.0.5:10025 -n "$N" -s "$KB" -c "$c" -t alice@example.test -p "$PH_PID" -C "$PH_COUNT" -l "posthorn/c$c" -o "$OUT" ;;
            posthorn-pg) with_db_cpu "$N" "$INGEST" 127.0.0.7:10025 -n "$N" -s "$KB" -c "$c" -t alice@example.test -p "$PG1_PID" -C "$(count_cmd pg1)" -l "posthorn-pg/c$c" ;;
            posthorn-pg-2rcpt) two_streams posthorn-pg-2rcpt "$c" pg1 pg1 ;;
            posthorn-pg2) two_streams posthorn-pg2 "$c" pg2a pg2b ;;
            postfix) "$INGEST" "127.0.0.1:$SMTP_PORT" -n "$N" -s "$KB" -c "$c" -t alice@example.test -p "$PF_PIDS" -C "$PF_COUNT" -w 600 -l "postfix/c$c" -o "$OUT" ;;
            *) echo "unknown target $target" >&2; exit 2 ;;
            esac
        done
    done
done
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT"

echo
bench/ingest-summary.sh "$OUT" | tee "$OUT.summary"
echo "raw lines: $OUT"
