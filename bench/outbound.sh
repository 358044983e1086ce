#!/usr/bin/env bash
# bench/outbound.sh — outbound delivery rate: posthorn vs Postfix, in one run.
#
#   bench/outbound.sh [-n MSGS] [-s KB] [-r ROUNDS] [-c CONNS]
#
# Ten smtp-sink instances on 127.0.88.1-10 stand for ten destination
# domains d1.bench … d10.bench; both servers reach them by static routes
# (posthorn [[delivery.routes]], Postfix transport_maps), 20 connections per
# destination at most (Postfix's default_destination_concurrency_limit).
# posthorn serves on 127.0.88.100 (submission, STARTTLS + AUTH, DKIM signing
# with an RSA-2048 and an Ed25519 key); a private Postfix instance (its own
# config and queue under the work directory, port 2525 on 127.0.88.101)
# relays for loopback without AUTH or signing.
#
# Two measures per round, servers interleaved:
#   drain: N messages already queued (posthorn: submitted with delivery off,
#          then the server restarted with delivery on; Postfix: submitted
#          into the hold queue, then released with postsuper -H ALL); time
#          until the sinks counted all N. This is the outbound rate.
#   relay: N messages submitted (outload, C connections) while delivery
#          runs; time from the first submission until the sinks counted N.
# Prints one line per measure and the medians; raw lines go to
# bench/results/outbound-<date>.txt. Needs root (Postfix, smtp-sink -u).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
N=10000 KB=4 ROUNDS=3 CONNS=20
while getopts "n:s:r:c:" o; do
    case $o in n) N=$OPTARG ;; s) KB=$OPTARG ;; r) ROUNDS=$OPTARG ;; c) CONNS=$OPTARG ;; *) exit 2 ;; esac
done
OUT=bench/results/outbound-$(date +%Y%m%d-%H%M%S).txt
mkdir -p bench/results
WORK=$(mktemp -d /tmp/posthorn-outbench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
PF="$WORK/postfix"
cleanup() {
    [ -f "$PF/main.cf" ] && postfix -c "$PF" stop >/dev/null 2>&1 || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
command -v smtp-sink >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null

CGO_ENABLED=0 go build -o "$WORK/posthorn" ./cmd/posthorn
go build -o "$WORK/outload" ./bench/outload
PH="$WORK/posthorn"
SINK_PORT=2625 PH_IP=127.0.88.100 PF_IP=127.0.88.101
up() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
waitup() { for _ in $(seq 300); do up "$1" "$2" && return 0; sleep 0.1; done; echo "$1:$2 did not come up" >&2; return 1; }

# Ten sinks, counting (-c writes "sess=… quit=… msg=N" to stdout).
for i in $(seq 10); do
    smtp-sink -u nobody -c "127.0.88.$i:$SINK_PORT" 1000 >"$WORK/sink$i.out" 2>&1 &
    PIDS+=($!)
done
for i in $(seq 10); do waitup "127.0.88.$i" $SINK_PORT; done
sunk() { n=0; for i in $(seq 10); do
        c=$(tail -c 100 "$WORK/sink$i.out" | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2); n=$((n + ${c:-0})); done; echo $n; }
# waitsunk TARGET: wait until the sinks counted TARGET messages (max 15 min).
waitsunk() { "$WORK/outload" -sinks "$WORK/sink*.out" -total "$1"; }
now() { date +%s.%N; }
rate() { echo "$1 $2 $3" | awk '{ printf "%.0f", $1 / ($3 - $2) }'; }

# posthorn: config with delivery on or off.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench.posthorn.test" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1
phconfig() {
    {
        printf 'hostname = "bench.posthorn.test"\ndomains = ["posthorn.test"]\ndata_dir = "%s"\n' "$WORK/ph-data"
        printf '[[listeners]]\nrole = "submission"\naddress = "%s:2587"\n' $PH_IP
        printf '[tls]\ncert_file = "%s"\nkey_file = "%s"\n' "$WORK/cert.pem" "$WORK/key.pem"
        printf '[auth]\nlogin_cache = "15m"\n' 
        printf '[limits.smtp]\nmax_connections_per_ip = 100\n'
        printf '[delivery]\nenabled = %s\nmax_per_destination = 20\n' "$1"
        for i in $(seq 10); do printf '[[delivery.routes]]\ndomain = "d%d.bench"\nhost = "127.0.88.%d:%d"\n' "$i" "$i" $SINK_PORT; done
        printf '[log]\nlevel = "warn"\n'
    } >"$WORK/posthorn.toml"
}
phconfig true
"$PH" config check -config "$WORK/posthorn.toml" >/dev/null 2>&1 || sed -i '/^\[auth\]/,+1d' "$WORK/posthorn.toml"
"$PH" domain add -config "$WORK/posthorn.toml" posthorn.test >/dev/null 2>&1 || true
echo "bench-passw0rd" | "$PH" account add -config "$WORK/posthorn.toml" sender@posthorn.test >/dev/null
"$PH" dkim keygen -config "$WORK/posthorn.toml" posthorn.test >/dev/null 2>&1 && DKIM=on || DKIM=off
PH_PID=
phstart() { phconfig "$1"; "$PH" serve -config "$WORK/posthorn.toml" >>"$WORK/posthorn.log" 2>&1 & PH_PID=$!; PIDS+=($PH_PID); waitup $PH_IP 2587; }
phstop() { kill -TERM "$PH_PID"; wait "$PH_PID" 2>/dev/null || true; }
phqueue() { "$PH" queue summary -config "$WORK/posthorn.toml" | head -1; }
PH_LOAD=("$WORK/outload" -addr $PH_IP:2587 -tls -user sender@posthorn.test -pass bench-passw0rd -from sender@posthorn.test -n "$N" -s "$KB" -c "$CONNS")

# Postfix: a private instance.
mkdir -p "$PF"
cp /etc/postfix/master.cf.proto "$PF/master.cf" 2>/dev/null || cp /etc/postfix/master.cf "$PF/master.cf"
sed -i -E '/^[0-9.]+:[0-9]+ +inet/,/^[^ ]/{/^[0-9.]+:[0-9]+ +inet/d;/^  -o/d}' "$PF/master.cf"
sed -i -E 's/^smtp( +)inet/#smtp\1inet/; s/^submission/#submission/; s/^smtps/#smtps/' "$PF/master.cf"
awk '/^[a-z]/ && NF >= 8 { $5 = "n" } { print }' "$PF/master.cf" >"$PF/master.cf.new" && mv "$PF/master.cf.new" "$PF/master.cf"
echo "$PF_IP:2525 inet n - n - - smtpd" >>"$PF/master.cf"
TRANSPORT=$(for i in $(seq 10); do printf 'd%d.bench=smtp:[127.0.88.%d]:%d ' "$i" "$i" $SINK_PORT; done)
cat >"$PF/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.postfix.test
mydomain = postfix.test
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = $(for i in $(seq 10); do printf 'd%d.bench ' "$i"; done)
transport_maps = inline:{ $(echo $TRANSPORT | sed 's/ /, /g') }
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
smtp_tls_security_level = none
smtp_dns_support_level = disabled
alias_maps =
local_recipient_maps =
maillog_file_prefixes = /tmp
maillog_file = $PF/postfix.log
syslog_name = pfbench
smtpd_peername_lookup = no
default_destination_concurrency_limit = 20
CF
mkdir -p "$PF/spool" "$PF/data"
chown postfix "$PF/data"
postfix -c "$PF" set-permissions >/dev/null 2>&1 || true
script -eqc "postfix -c $PF start" "$WORK/pfstart.log" >/dev/null || { cat "$WORK/pfstart.log"; exit 1; }
waitup $PF_IP 2525
PF_LOAD=("$WORK/outload" -addr $PF_IP:2525 -from sender@postfix.test -n "$N" -s "$KB" -c "$CONNS")
pfhold() { postconf -c "$PF" -e "smtpd_recipient_restrictions = $1"; postfix -c "$PF" reload >/dev/null 2>&1; sleep 1; }
pfqueued() { find "$PF/spool/hold" "$PF/spool/incoming" "$PF/spool/active" "$PF/spool/deferred" -type f 2>/dev/null | wc -l; }

echo "# posthorn $(git rev-parse --short HEAD) $(date -u +%FT%TZ) N=$N KB=$KB conns=$CONNS dkim=$DKIM $(nproc) cores" | tee "$OUT"
line() { echo "$*" | tee -a "$OUT"; }

for r in $(seq "$ROUNDS"); do
    # posthorn drain
    phstart false
    "${PH_LOAD[@]}" >"$WORK/load.txt"
    phstop
    base=$(sunk); t0=$(now); phstart true; waitsunk $((base + N)); t1=$(now)
    line "server=posthorn measure=drain round=$r msgs=$N secs=$(echo "$t1 - $t0" | bc) rate=$(rate "$N" "$t0" "$t1") inject=\"$(cat "$WORK/load.txt")\""
    # Postfix drain
    pfhold "check_recipient_access static:HOLD"
    "${PF_LOAD[@]}" >"$WORK/load.txt"
    pfhold ""
    for _ in $(seq 300); do [ "$(find "$PF/spool/hold" -type f | wc -l)" -ge "$N" ] && break; sleep 0.1; done
    base=$(sunk); t0=$(now); postsuper -c "$PF" -H ALL >/dev/null 2>&1; postqueue -c "$PF" -f; waitsunk $((base + N)); t1=$(now)
    line "server=postfix measure=drain round=$r msgs=$N secs=$(echo "$t1 - $t0" | bc) rate=$(rate "$N" "$t0" "$t1") inject=\"$(cat "$WORK/load.txt")\""
    # posthorn relay (delivery on during submission)
    base=$(sunk); t0=$(now); "${PH_LOAD[@]}" >"$WORK/load.txt"; waitsunk $((base + N)); t1=$(now)
    line "server=posthorn measure=relay round=$r msgs=$N secs=$(echo "$t1 - $t0" | bc) rate=$(rate "$N" "$t0" "$t1") inject=\"$(cat "$WORK/load.txt")\" queue=\"$(phqueue)\""
    phstop
    # Postfix relay
    base=$(sunk); t0=$(now); "${PF_LOAD[@]}" >"$WORK/load.txt"; waitsunk $((base + N)); t1=$(now)
    line "server=postfix measure=relay round=$r msgs=$N secs=$(echo "$t1 - $t0" | bc) rate=$(rate "$N" "$t0" "$t1") inject=\"$(cat "$WORK/load.txt")\" queue=$(pfqueued)"
done

echo
for m in drain relay; do
    ph=$(grep "server=posthorn measure=$m " "$OUT" | grep -o ' rate=[0-9]*' | cut -d= -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    pf=$(grep "server=postfix measure=$m " "$OUT" | grep -o ' rate=[0-9]*' | cut -d= -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$m: posthorn median ${ph}/s, Postfix median ${pf}/s, ratio $(echo "$ph $pf" | awk '{ printf "%.2f", $1 / $2 }')" | tee -a "$OUT"
done
echo "raw lines: $OUT"
