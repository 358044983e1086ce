#!/usr/bin/env bash
# bench/pop3.sh — POP3 RETR throughput and logins/s: posthorn vs Dovecot's
# POP3 (../shared/refstack), interleaved in one run, with bench/pop3load.
#
#   bench/pop3.sh [-n MSGS] [-s KB] [-r ROUNDS] [-d SECONDS] [-a]
#
# Both servers hold the same N messages of KB KiB in the INBOXes of alice
# and bob (refstack's users and passwords). posthorn runs as
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

"$SHARED/refstack/start.sh" >/dev/null
. /var/lib/refstack/target.env
USERS="$USER1:$PASS1,$USER2:$PASS2"

# The same message N times in each Dovecot INBOX.
go build -o "$WORK/pop3load" ./bench/pop3load
"$WORK/pop3load" serve -dir "$WORK/ph" -addr 127.0.0.5:10110 -n "$N" -kb "$KB" -users "$USERS" $CACHE >"$WORK/serve.log" 2>&1 &
PH_PID=$!
python3 - "$KB" >"$WORK/msg.eml" <<'PY'
import sys
kb = int(sys.argv[1])
s = "From: bench@example.org\r\nTo: alice@example.test\r\nSubject: pop3 bench\r\nMessage-ID: <bench@example.org>\r\n\r\n"
while len(s) < kb << 10:
    s += "x" * 74 + "\r\n"
sys.stdout.write(s)
PY
for u in "$USER1" "$USER2"; do
    doveadm expunge -u "$u" mailbox INBOX all 2>/dev/null || true
    for _ in $(seq "$N"); do doveadm save -u "$u" <"$WORK/msg.eml"; done
done
for _ in $(seq 300); do grep -q ready "$WORK/serve.log" && break; sleep 0.1; done
grep -q ready "$WORK/serve.log" || { cat "$WORK/serve.log"; exit 1; }

echo "# posthorn $(git rev-parse --short HEAD) $(date -u +%FT%TZ) N=$N KB=$KB SECS=$SECS cache=${CACHE:-no} dovecot=$(dovecot --version | cut -d' ' -f1)" | tee "$OUT"
for r in $(seq "$ROUNDS"); do
    for mode in login retr; do
        "$WORK/pop3load" "$mode" -addr 127.0.0.5:10110 -users "$USERS" -duration "${SECS}s" -label "posthorn/$mode" | tee -a "$OUT"
        "$WORK/pop3load" "$mode" -addr "127.0.0.1:$POP3_PORT" -users "$USERS" -duration "${SECS}s" -label "dovecot/$mode" | tee -a "$OUT"
    done
done

echo
echo "medians:"
awk '
/^pop3load/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    k = v["label"]; ops[k] = ops[k] " " v["ops_per_s"]; msgs[k] = msgs[k] " " v["msgs_per_s"]; mb[k] = mb[k] " " v["mb_per_s"]; err[k] += v["errors"]
}
function median(s,   a, n, i, j, t) {
    n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n ? a[int((n + 1) / 2)] : 0
}
END {
    for (k in ops) { m[k] = (k ~ /retr/) ? median(msgs[k]) : median(ops[k]); printf "%-16s %s=%8.1f  MB/s=%7.2f  errors=%d\n", k, (k ~ /retr/) ? "msgs/s" : "logins/s", m[k], median(mb[k]), err[k] }
    for (x in m) if (x ~ /^posthorn/) { y = x; sub(/^posthorn/, "dovecot", y); if (m[y] > 0) printf "%s / %s = %.2fx\n", x, y, m[x] / m[y] }
}' "$OUT" | tee "$OUT.summary"
echo "raw lines: $OUT"
