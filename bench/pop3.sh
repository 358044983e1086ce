#!/usr/bin/env bash
# bench/pop3.sh — POP3 RETR throughput and logins/s: posthorn vs Dovecot's
# POP3 (../shared/refstack), interleaved in one run, with bench/pop3load.
#
#   bench/pop3.sh [-n MSGS] [-s KB] [-r ROUNDS] [-d SECONDS] [-a]
#
# Both servers hold the same N messages of KB KiB in the INBOX (bob's on
# Dovecot, see below). posthorn runs as
# "pop3load serve" (the POP3 engine on a SQLite store) on 127.0.0.5:10110;
# Dovecot on 127.0.0.1:2110. Both are plain POP3 with USER/PASS allowed on
# loopback. -a gives posthorn the verified-password cache (see
# docs/BENCHMARKS.md). One session per user (POP3 locks the maildrop), so
# two concurrent sessions. Prints one line per run, then medians and
# ratios; raw lines go to bench/results/pop3-<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
N=200 KB=10 ROUNDS=3 SECS=10 CACHE=
while getopts "n:s:r:d:a" o; do
    case $o in n) N=$OPTARG ;; s) KB=$OPTARG ;; r) ROUNDS=$OPTARG ;; d) SECS=$OPTARG ;; a) CACHE=-authcache ;; *) exit 2 ;; esac
done
SHARED=${SHARED:-../shared}
OUT=bench/results/pop3-$(date +%Y%m%d-%H%M%S).txt
mkdir -p bench/results
WORK=$(mktemp -d /tmp/posthorn-pop3bench.XXXXXX)
PH_PID=
cleanup() { [ -n "$PH_PID" ] && kill "$PH_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# Start the reference stack unless it already answers (others may be using it).
. /var/lib/refstack/target.env 2>/dev/null || true
if ! (exec 3<>"/dev/tcp/127.0.0.1/${POP3_PORT:-2110}") 2>/dev/null; then
    "$SHARED/refstack/start.sh" >/dev/null
fi
. /var/lib/refstack/target.env
# Dovecot's alice holds whatever the SMTP benchmarks left there, so the
# load runs on bob, whose INBOX must be empty at the start and is emptied
# again at the end. Dovecot lets two POP3 sessions share bob's INBOX;
# posthorn locks a maildrop (RFC 1939 §8), so its second session uses
# bob2, an identical maildrop.
DV_USERS="$USER2:$PASS2,$USER2:$PASS2"
PH_USERS="$USER2:$PASS2,bob2@$DOMAIN:$PASS2"
have=$(doveadm mailbox status -u "$USER2" messages INBOX | tr -dc 0-9)
[ "$have" = 0 ] || { echo "pop3.sh: Dovecot's $USER2 INBOX is not empty ($have messages); empty it first" >&2; exit 1; }
trap 'doveadm expunge -u "$USER2" mailbox INBOX all 2>/dev/null || true; cleanup' EXIT

go build -o "$WORK/pop3load" ./bench/pop3load
"$WORK/pop3load" serve -dir "$WORK/ph" -addr 127.0.0.5:10110 -n "$N" -kb "$KB" -users "$PH_USERS" $CACHE >"$WORK/serve.log" 2>&1 &
PH_PID=$!
python3 - "$KB" >"$WORK/msg.eml" <<'PY'
import sys
kb = int(sys.argv[1])
s = "From: bench@example.org\r\nTo: alice@example.test\r\nSubject: pop3 bench\r\nMessage-ID: <bench@example.org>\r\n\r\n"
while len(s) < kb << 10:
    s += "x" * 74 + "\r\n"
sys.stdout.write(s)
PY
for _ in $(seq "$N"); do doveadm save -u "$USER2" <"$WORK/msg.eml"; done
for _ in $(seq 300); do grep -q ready "$WORK/serve.log" && break; sleep 0.1; done
grep -q ready "$WORK/serve.log" || { cat "$WORK/serve.log"; exit 1; }

echo "# posthorn $(git rev-parse --short HEAD) $(date -u +%FT%TZ) N=$N KB=$KB SECS=$SECS cache=${CACHE:-no} dovecot=$(dovecot --version | cut -d' ' -f1)" | tee "$OUT"
# Server CPU: utime+stime of the processes and of their reaped children
# (Dovecot forks a login and a pop3 process per session; the master reaps
# them), in clock ticks.
HZ=$(getconf CLK_TCK)
cpu_ticks() {
    local total=0 p f
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        read -r -a f < <(sed 's/.*) //' "/proc/$p/stat") || continue
        total=$((total + f[11] + f[12] + f[13] + f[14]))
    done
    echo "$total"
}
dovecot_pids() { local m; m=$(pgrep -o -x dovecot); echo "$m" $(pgrep -P "$m"); }
# run LABEL ADDR USERS MODE PIDS-FUNCTION: one load run, with the server's
# CPU per operation (login, or RETRed message) appended.
run() {
    local before after line ops
    before=$(cpu_ticks $($5))
    line=$("$WORK/pop3load" "$4" -addr "$2" -users "$3" -duration "${SECS}s" -label "$1/$4")
    after=$(cpu_ticks $($5))
    ops=$(echo "$line" | tr ' ' '\n' | awk -F= -v m="$4" '($1 == "ops" && m == "login") || ($1 == "msgs_per_s" && m == "retr") {v = $2} $1 == "seconds" {s = $2} END {print (m == "retr") ? v * s : v}')
    echo "$line server_cpu_ms_per_op=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$ops" 'BEGIN {printf "%.3f", (n > 0 ? t * 1000 / hz / n : 0)}')" | tee -a "$OUT"
}
ph_pids() { echo "$PH_PID"; }
for r in $(seq "$ROUNDS"); do
    for mode in login retr; do
        run posthorn 127.0.0.5:10110 "$PH_USERS" "$mode" ph_pids
        run dovecot "127.0.0.1:$POP3_PORT" "$DV_USERS" "$mode" dovecot_pids
    done
done

echo
echo "medians:"
awk '
/^pop3load/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    k = v["label"]; ops[k] = ops[k] " " v["ops_per_s"]; msgs[k] = msgs[k] " " v["msgs_per_s"]; mb[k] = mb[k] " " v["mb_per_s"]; err[k] += v["errors"]
    cpu[k] = cpu[k] " " v["server_cpu_ms_per_op"]
}
function median(s,   a, n, i, j, t) {
    n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n ? a[int((n + 1) / 2)] : 0
}
END {
    for (k in ops) { m[k] = (k ~ /retr/) ? median(msgs[k]) : median(ops[k]); c[k] = median(cpu[k]); printf "%-16s %s=%8.1f  MB/s=%7.2f  server_cpu_ms_per_op=%7.3f  errors=%d\n", k, (k ~ /retr/) ? "msgs/s" : "logins/s", m[k], median(mb[k]), c[k], err[k] }
    for (x in m) if (x ~ /^posthorn/) { y = x; sub(/^posthorn/, "dovecot", y); if (m[y] > 0) printf "%s / %s = %.2fx (rate), %.2fx (server CPU per op)\n", x, y, m[x] / m[y], (c[y] > 0 ? c[x] / c[y] : 0) }
}' "$OUT" | tee "$OUT.summary"
echo "raw lines: $OUT"
