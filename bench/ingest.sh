#!/usr/bin/env bash
# bench/ingest.sh — durable SMTP ingest: posthorn vs Postfix (+Dovecot) vs
# smtp-sink, interleaved in one run, with ../shared/bench/smtp-ingest.sh.
#
#   bench/ingest.sh [-n MSGS] [-s KB] [-r ROUNDS] [-c "10 50"]
#
# Needs root on Debian (refstack start, apt-get for postfix). posthorn runs in
# dev mode on 127.0.0.5:10025, smtp-sink on 127.0.0.6:10025, the reference
# stack (Postfix -> LMTP -> Dovecot) on 127.0.0.1:2525. Every target is on
# loopback. Prints one smtp-ingest line per run, then medians and ratios;
# the raw lines go to bench/results/ingest-<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
N=20000 KB=10 ROUNDS=3 SESSIONS="10 50"
while getopts "n:s:r:c:" o; do
    case $o in n) N=$OPTARG ;; s) KB=$OPTARG ;; r) ROUNDS=$OPTARG ;; c) SESSIONS=$OPTARG ;; *) exit 2 ;; esac
done
SHARED=${SHARED:-../shared}
INGEST=$SHARED/bench/smtp-ingest.sh
OUT=bench/results/ingest-$(date +%Y%m%d-%H%M%S).txt
mkdir -p bench/results
WORK=$(mktemp -d /tmp/posthorn-bench.XXXXXX)
PIDS_TO_KILL=()
cleanup() { for p in "${PIDS_TO_KILL[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

command -v smtp-source >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null
"$SHARED/refstack/start.sh" >/dev/null
. /var/lib/refstack/target.env

CGO_ENABLED=0 go build -o "$WORK/posthorn" ./cmd/posthorn
"$WORK/posthorn" dev -dir "$WORK/dev" -addr 127.0.0.5 >"$WORK/posthorn.log" 2>&1 &
PH_PID=$!; PIDS_TO_KILL+=("$PH_PID")
for _ in $(seq 100); do [ -f "$WORK/dev/dev.json" ] && break; sleep 0.1; done
[ -f "$WORK/dev/dev.json" ] || { cat "$WORK/posthorn.log"; exit 1; }
SINK_USER=(); [ "$(id -u)" = 0 ] && SINK_USER=(-u nobody)   # smtp-sink refuses to run as root
smtp-sink "${SINK_USER[@]}" 127.0.0.6:10025 1000 >/dev/null 2>&1 &
SINK_PID=$!; PIDS_TO_KILL+=("$SINK_PID")
up() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
for _ in $(seq 50); do up 127.0.0.6 10025 && break; sleep 0.1; done
up 127.0.0.6 10025 || { echo "smtp-sink did not start" >&2; exit 1; }

PH_COUNT="'$WORK/posthorn' message count -config '$WORK/dev/posthorn.toml' alice@example.test"
PF_COUNT="doveadm mailbox status -u alice@example.test messages INBOX | tr -dc 0-9"
PF_PIDS=$(pgrep -d, -x master),$(pgrep -d, -x dovecot)

echo "# posthorn $(git rev-parse --short HEAD) $(date -u +%FT%TZ) N=$N KB=$KB" | tee "$OUT"
for c in $SESSIONS; do
    for r in $(seq "$ROUNDS"); do
        "$INGEST" 127.0.0.6:10025 -n "$N" -s "$KB" -c "$c" -t alice@example.test -p "$SINK_PID" -l "smtp-sink/c$c" -o "$OUT"
        "$INGEST" 127.0.0.5:10025 -n "$N" -s "$KB" -c "$c" -t alice@example.test -p "$PH_PID" -C "$PH_COUNT" -l "posthorn/c$c" -o "$OUT"
        "$INGEST" "127.0.0.1:$SMTP_PORT" -n "$N" -s "$KB" -c "$c" -t alice@example.test -p "$PF_PIDS" -C "$PF_COUNT" -w 600 -l "postfix/c$c" -o "$OUT"
    done
done

echo
bench/ingest-summary.sh "$OUT" | tee "$OUT.summary"
echo "raw lines: $OUT"
