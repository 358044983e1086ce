#!/usr/bin/env bash
# bench/api.sh — accepted sends per second: the HTTP API against SMTP
# submission, interleaved in one run on one server.
#
#   bench/api.sh [-n MSGS] [-s KB] [-r PAIRS] [-c CLIENTS]
#
# One posthorn on 127.0.0.8 (data, certificate and accounts made by dev
# mode) with a submission listener (STARTTLS, AUTH PLAIN) and an http
# listener (HTTPS), both with the same certificate, [http] rate_limit off,
# delivery off (mail stays in the durable queue, so both paths end in the
# same fsync'd Enqueue). bench/apiload sends N text messages of KB KiB
# from alice@example.test to one remote recipient over CLIENTS concurrent
# clients: JSON POSTs on keep-alive HTTPS connections, or one SMTP
# transaction per message on authenticated connections. Each run's
# messages are counted in the queue afterwards.
#
# A shared machine's load swings single runs by a third, so the runs are
# many short pairs, api then smtp and smtp then api in turn (drift within
# a pair cancels over two pairs), and the result is the median of the
# per-pair ratios api/smtp, of throughput and of the server's CPU per
# message (utime + stime of the posthorn process from /proc, which other
# processes' load hardly moves). Prints one apiload line per run and the
# summary; raw lines go to bench/results/api-<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
N=2000 KB=2 ROUNDS=10 CLIENTS=50
while getopts "n:s:r:c:" o; do
    case $o in n) N=$OPTARG ;; s) KB=$OPTARG ;; r) ROUNDS=$OPTARG ;; c) CLIENTS=$OPTARG ;; *) exit 2 ;; esac
done
IP=127.0.0.8
OUT=bench/results/api-$(date +%Y%m%d-%H%M%S).txt
mkdir -p bench/results
WORK=$(mktemp -d /tmp/posthorn-apibench.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

CGO_ENABLED=0 go build -o "$WORK/posthorn" ./cmd/posthorn
go build -o "$WORK/apiload" ./bench/apiload
PH="$WORK/posthorn"

# Dev mode once, for the certificate, the domain and alice's password.
"$PH" dev -dir "$WORK/dev" -addr "$IP" >"$WORK/dev.log" 2>&1 &
PID=$!
for _ in $(seq 300); do [ -f "$WORK/dev/dev.json" ] && break; sleep 0.1; done
[ -f "$WORK/dev/dev.json" ] || { cat "$WORK/dev.log"; exit 1; }
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
PASS=$(python3 -c 'import json,sys; print([a["password"] for a in json.load(open(sys.argv[1]))["accounts"] if a["address"].startswith("alice@")][0])' "$WORK/dev/dev.json")
CERT=$(sed -n 's/^cert_file = "\(.*\)"$/\1/p' "$WORK/dev/posthorn.toml")
KEYF=$(sed -n 's/^key_file = "\(.*\)"$/\1/p' "$WORK/dev/posthorn.toml")
CFG="$WORK/bench.toml"
cat >"$CFG" <<TOML
hostname = "mail.example.test"
domains = ["example.test"]
data_dir = "$WORK/dev/data"
[[listeners]]
role = "submission"
address = "$IP:11587"
[[listeners]]
role = "http"
address = "$IP:11443"
[tls]
cert_file = "$CERT"
key_file = "$KEYF"
[http]
rate_limit = 0
[delivery]
enabled = false
[log]
level = "warn"
TOML
KEY=$("$PH" apikey create -config "$CFG" bench example.test 2>/dev/null)
"$PH" serve -config "$CFG" >"$WORK/serve.log" 2>&1 &
PID=$!
up() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
for _ in $(seq 100); do up "$IP" 11443 && up "$IP" 11587 && break; sleep 0.1; done
up "$IP" 11443 || { cat "$WORK/serve.log"; exit 1; }

cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }   # server CPU in clock ticks
client_cpu() { awk '{print $16 + $17}' /proc/$$/stat; } # CPU of this shell's waited-for children (apiload)
per_msg() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN { printf "%.3f", 1000 * t / hz / n }'; }
queued() { "$PH" queue summary -config "$CFG" | sed -n 's/^messages: *\([0-9]*\).*/\1/p'; }
run() {
    local mode=$1 before after line c0 c1
    before=$(queued); c0=$(cpu)
    local t0 t1
    t0=$(client_cpu)
    if [ "$mode" = api ]; then
        line=$("$WORK/apiload" -mode api -addr "$IP:11443" -key "$KEY" -ca "$WORK/dev/tls/ca.pem" -n "$N" -s "$KB" -c "$CLIENTS")
    else
        line=$("$WORK/apiload" -mode smtp -addr "$IP:11587" -user alice@example.test -pass "$PASS" -ca "$WORK/dev/tls/ca.pem" -n "$N" -s "$KB" -c "$CLIENTS")
    fi
    t1=$(client_cpu); c1=$(cpu); after=$(queued)
    echo "$line queued=$((after - before)) server_cpu_ms_per_msg=$(per_msg $((c1 - c0))) client_cpu_ms_per_msg=$(per_msg $((t1 - t0))) load1=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$OUT"
}

echo "# posthorn $(git rev-parse --short HEAD) $(date -u +%FT%TZ) N=$N KB=$KB clients=$CLIENTS nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT"
run api >/dev/null; run smtp >/dev/null   # warm-up (logins cached, pages in), not counted
sed -i '$d' "$OUT"; sed -i '$d' "$OUT"
for i in $(seq "$ROUNDS"); do
    if [ $((i % 2)) = 1 ]; then run api; run smtp; else run smtp; run api; fi
done

awk '
/^apiload/ { delete v; for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    m = v["mode"]; k[m]++
    r[m, k[m]] = v["msgs_per_s"]; cpu[m, k[m]] = v["server_cpu_ms_per_msg"]; ccpu[m, k[m]] = v["client_cpu_ms_per_msg"]
    e[m] += v["errors"]; if (v["queued"] != v["msgs"]) bad[m]++; load = load " " v["load1"] }
function median(s,   a, n, i, j, t) {
    n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    if (n == 0) return 0
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function col(arr, m,   s, i) { s = ""; for (i = 1; i <= k[m]; i++) s = s " " arr[m, i]; return s }
function lo(s,   a, n, i, x) { n = split(s, a, " "); x = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < x + 0) x = a[i]; return x }
function hi(s,   a, n, i, x) { n = split(s, a, " "); x = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > x + 0) x = a[i]; return x }
END {
    for (m in k) printf "%-5s median %8.1f msgs/s  server CPU %.3f ms/msg  client CPU %.3f ms/msg  errors %d  runs with queued != sent: %d\n", m, median(col(r, m)), median(col(cpu, m)), median(col(ccpu, m)), e[m], bad[m]
    n = k["api"] < k["smtp"] ? k["api"] : k["smtp"]
    for (i = 1; i <= n; i++) {
        if (r["smtp", i] > 0) tr = tr " " r["api", i] / r["smtp", i]
        if (cpu["smtp", i] > 0) cr = cr " " cpu["api", i] / cpu["smtp", i]
        if (r["api", i] > r["smtp", i]) faster++
    }
    printf "pairs %d, load average (1 min) %s to %s during the runs\n", n, lo(load), hi(load)
    printf "api / smtp throughput: median of per-pair ratios %.2fx (api faster in %d of %d pairs)\n", median(tr), faster, n
    printf "api / smtp server CPU per message: median of per-pair ratios %.2fx\n", median(cr)
}' "$OUT" | tee "$OUT.summary"
echo "raw lines: $OUT"
