#!/usr/bin/env bash
# bench/imap.sh — the IMAP figures of issue 3: posthorn against Dovecot
# (../shared/refstack), interleaved in one run, ROUNDS rounds, medians and
# ratios, with the load tool of ../shared/bench/imap (imapprobe).
#
#   bench/imap.sh [--store postgres] [-r ROUNDS] [-d SECS] [-c "1 10 50"] [-n SCALE_N] [-i IDLE_N] [-l LAT_N] [-p "mix scale idlelat idlemem"]
#
# --store postgres adds posthorn-pg to the mix and idlelat parts: the same
# daemon on 127.0.0.7 with its store in a private, durable PostgreSQL
# (bench/pg.sh; fsync=on, synchronous_commit=on), whose CPU counts in its
# cpu_ms_per_cmd.
#
# posthorn runs as the real daemon (`posthorn serve`, data and TLS made by
# one `posthorn dev` start) on 127.0.0.5: imaps 10993, imap 10143 (logins
# in plain text from loopback: auth.plaintext_on_loopback), MX 10025, with
# the IMAP connection limits raised for the load. Dovecot is on
# 127.0.0.1:2993 (imaps), fed through Postfix on 2525. Both are measured
# over implicit TLS, but for the plaintext run of idlemem (Dovecot allows
# plaintext only from 127.0.0.1). Dovecot's user is bob (alice holds what
# other benchmarks left); posthorn's is alice.
#
# Parts, per round, posthorn then Dovecot:
#   mix      imapprobe mix (login, select, fetch flags/envelope/body, store,
#            append, search, expunge, idle, logout) for SECS s at each
#            client count; commands/s, errors, server CPU per command
#   scale    SCALE_N messages (imapprobe populate, once; Dovecot's box is
#            kept between runs): SELECT (posthorn restarted before the
#            round, so "first" is cold), FETCH 1:* (FLAGS), UID SEARCH TEXT
#            and BODY, 5 repetitions each on fresh connections
#   idlelat  LAT_N deliveries over SMTP to the user, time to "* N EXISTS" on
#            an IDLE connection (from the SMTP connect, and from the 250)
#   idlemem  IDLE_N connections in IDLE over TLS, then in plain text:
#            RSS/PSS/USS delta per connection of the server's process tree
#            (posthorn: a fresh process per run). Dovecot keeps one
#            imap-login process per TLS connection and the refstack allows
#            100 of those (default_process_limit), so it gets DV_IDLE_N
#            (default 90) TLS connections plus a plaintext run of
#            DV_PLAIN_N (default 180, alice and bob from 127.0.0.1: 100 per
#            user and IP)
# Raw lines go to bench/results/imap-<date>.txt, the summary to .summary.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
ROUNDS=3 SECS=20 CLIENTS="1 10 50" SCALE_N=100000 IDLE_N=1000 LAT_N=50 PARTS="mix scale idlelat idlemem" STORE=sqlite
if [ "${1:-}" = --store ]; then STORE=$2; shift 2; fi
case $STORE in sqlite | postgres) ;; *) echo "--store: sqlite or postgres" >&2; exit 2 ;; esac
while getopts "r:d:c:n:i:l:p:" o; do
    case $o in
    r) ROUNDS=$OPTARG ;; d) SECS=$OPTARG ;; c) CLIENTS=$OPTARG ;; n) SCALE_N=$OPTARG ;;
    i) IDLE_N=$OPTARG ;; l) LAT_N=$OPTARG ;; p) PARTS=$OPTARG ;; *) exit 2 ;;
    esac
done
DV_IDLE_N=${DV_IDLE_N:-90} DV_PLAIN_N=${DV_PLAIN_N:-180}
SHARED=${SHARED:-../shared}
OUT=bench/results/imap-$(date +%Y%m%d-%H%M%S).txt
mkdir -p bench/results
WORK=$(mktemp -d /tmp/posthorn-imapbench.XXXXXX)
PH_PID= PHPG_PID=
. bench/pg.sh
stop_phpg() {
    if [ -n "$PHPG_PID" ]; then
        kill "$PHPG_PID" 2>/dev/null || true
        wait "$PHPG_PID" 2>/dev/null || true
        PHPG_PID=
    fi
}
stop_ph() {
    if [ -n "$PH_PID" ]; then
        kill "$PH_PID" 2>/dev/null || true
        wait "$PH_PID" 2>/dev/null || true
        PH_PID=
    fi
}
trap 'stop_ph; stop_phpg; pg_stop; rm -rf "$WORK"' EXIT
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
ulimit -n 20000 2>/dev/null || true

. /var/lib/refstack/target.env 2>/dev/null || true
if ! (exec 3<>"/dev/tcp/127.0.0.1/${IMAPS_PORT:-2993}") 2>/dev/null; then
    "$SHARED/refstack/start.sh" >/dev/null </dev/null
fi
. /var/lib/refstack/target.env

go build -o "$WORK/posthorn" ./cmd/posthorn
(cd "$SHARED/bench/imap/imapprobe" && go build -o "$WORK/imapprobe" .)
python3 "$SHARED/bench/imap/gen_mbox.py" -n 1000 -o "$WORK/test.mbox" >/dev/null

# posthorn: one dev start makes the data directory, the accounts and the
# certificate; then the daemon runs from a config of our own.
PH=$WORK/ph
"$WORK/posthorn" dev -dir "$PH" -addr 127.0.0.5 >"$WORK/dev.log" 2>&1 &
PH_PID=$!
for _ in $(seq 300); do [ -s "$PH/dev.json" ] && break; sleep 0.1; done
[ -s "$PH/dev.json" ] || { cat "$WORK/dev.log"; exit 1; }
stop_ph
PH_USER=alice@example.test
PH_PASS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accounts"][0]["password"])' "$PH/dev.json")
PH_PASS2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accounts"][1]["password"])' "$PH/dev.json")
cat >"$WORK/posthorn.toml" <<EOF
hostname = "mail.example.test"
domains = ["example.test"]
data_dir = "$PH/data"

[[listeners]]
role = "imaps"
address = "127.0.0.5:10993"

[[listeners]]
role = "imap"
address = "127.0.0.5:10143"

[[listeners]]
role = "smtp"
address = "127.0.0.5:10025"

[auth]
plaintext_on_loopback = true

[tls]
cert_file = "$PH/tls/cert.pem"
key_file = "$PH/tls/key.pem"

[limits.imap]
max_connections = 5000
max_connections_per_ip = 5000
max_connections_per_account = 5000

[delivery]
enabled = false

[log]
level = "warn"
EOF
start_ph() {
    "$WORK/posthorn" serve -config "$WORK/posthorn.toml" >>"$WORK/serve.log" 2>&1 &
    PH_PID=$!
    for _ in $(seq 300); do
        (exec 3<>/dev/tcp/127.0.0.5/10993) 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$WORK/serve.log"
    exit 1
}
start_ph

# posthorn-pg: the same configuration on 127.0.0.7 with the store in
# PostgreSQL; its dev start makes its accounts in that database.
SERVERS="posthorn dovecot"
if [ "$STORE" = postgres ]; then
    SERVERS="posthorn posthorn-pg dovecot"
    pg_start "$WORK/pg"
    PG_DSN=$(pg_createdb bench_imap)
    PHPG=$WORK/phpg
    "$WORK/posthorn" dev -dir "$PHPG" -addr 127.0.0.7 -store-dsn "$PG_DSN" >"$WORK/devpg.log" 2>&1 &
    PHPG_PID=$!
    for _ in $(seq 300); do [ -s "$PHPG/dev.json" ] && break; sleep 0.1; done
    [ -s "$PHPG/dev.json" ] || { cat "$WORK/devpg.log"; exit 1; }
    stop_phpg
    PHPG_PASS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accounts"][0]["password"])' "$PHPG/dev.json")
    sed -e "s|127.0.0.5|127.0.0.7|; s|$PH/|$PHPG/|g" "$WORK/posthorn.toml" >"$WORK/posthorn-pg.toml"
    printf '\n[store]\nbackend = "postgres"\ndsn = "%s"\n' "$PG_DSN" >>"$WORK/posthorn-pg.toml"
    sed -i 's|127.0.0.5|127.0.0.7|g' "$WORK/posthorn-pg.toml"
    "$WORK/posthorn" serve -config "$WORK/posthorn-pg.toml" >>"$WORK/serve-pg.log" 2>&1 &
    PHPG_PID=$!
    for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.7/10993) 2>/dev/null && break; sleep 0.1; done
    (exec 3<>/dev/tcp/127.0.0.7/10993) 2>/dev/null || { cat "$WORK/serve-pg.log"; exit 1; }
fi

PHP=(-host 127.0.0.5 -port 10993 -tls -user "$PH_USER" -pass "$PH_PASS")
PGP=(-host 127.0.0.7 -port 10993 -tls -user "$PH_USER" -pass "${PHPG_PASS:-}")
DVP=(-host 127.0.0.1 -port "$IMAPS_PORT" -tls -user "$USER2" -pass "$PASS2")
probe() { "$WORK/imapprobe" "$@"; }

# Server CPU: utime+stime of the processes and their reaped children, in ticks.
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
ph_pids() { echo "$PH_PID"; }
server_pids() {
    case $1 in posthorn) ph_pids ;; posthorn-pg) echo "$PHPG_PID" $(pg_pids) ;; *) dovecot_pids ;; esac
}
args_of() {
    case $1 in posthorn) echo "${PHP[@]}" ;; posthorn-pg) echo "${PGP[@]}" ;; *) echo "${DVP[@]}" ;; esac
}

echo "# posthorn $(git rev-parse --short HEAD) $(date -u +%FT%TZ) rounds=$ROUNDS secs=$SECS clients='$CLIENTS' scale_n=$SCALE_N idle_n=$IDLE_N lat_n=$LAT_N store=$STORE dovecot=$(dovecot --version | cut -d' ' -f1) load=$(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT"

if has scale; then
    box=imapbench-scale-$SCALE_N
    for s in posthorn dovecot; do
        # shellcheck disable=SC2046
        line=$(probe populate $(args_of $s) -box "$box" -n "$SCALE_N" -if-less -conns 16 -window 64 2>/dev/null)
        echo "populate server=$s $line" | tee -a "$OUT"
    done
fi

run_mix() { # SERVER CLIENTS
    local before after line cmds
    before=$(cpu_ticks $(server_pids "$1"))
    # shellcheck disable=SC2046
    line=$(probe mix $(args_of "$1") -clients "$2" -duration "${SECS}s" -mbox "$WORK/test.mbox" -box imapbench-mix 2>>"$WORK/mix.err")
    after=$(cpu_ticks $(server_pids "$1"))
    cmds=$(echo "$line" | sed -E 's/.*: ([0-9.]+) cmds\/s.*/\1/')
    echo "mix server=$1 clients=$2 round=$r cpu_ms_per_cmd=$(awk -v t=$((after - before)) -v hz="$HZ" -v c="$cmds" -v s="$SECS" 'BEGIN {printf "%.3f", (c > 0 ? t * 1000 / hz / (c * s) : 0)}') $line" | tee -a "$OUT"
}
run_scale() { # SERVER
    # shellcheck disable=SC2046
    line=$(probe scale $(args_of "$1") -box "imapbench-scale-$SCALE_N" -reps 5 -body 2>>"$WORK/scale.err" | tail -1)
    echo "scale server=$1 round=$r $line" | tee -a "$OUT"
}
run_idlelat() { # SERVER
    local smtp=127.0.0.5:10025
    [ "$1" = dovecot ] && smtp=127.0.0.1:$SMTP_PORT
    [ "$1" = posthorn-pg ] && smtp=127.0.0.7:10025
    # shellcheck disable=SC2046
    line=$(probe idlelat $(args_of "$1") -smtp "$smtp" -n "$LAT_N" -gap 200ms 2>>"$WORK/idlelat.err")
    echo "idlelat server=$1 round=$r $line" | tee -a "$OUT"
}
run_idlemem() { # SERVER
    if [ "$1" = posthorn ]; then
        # A fresh process each time, no heap left from the parts before.
        # "cold": the first of the 1,000 logins runs argon2id (19 MiB; the
        # others wait for it and find the password in auth's cache); "warm":
        # one login first, before the baseline, so the 1,000 all hit the
        # cache of verified passwords (auth.login_cache), as reconnecting
        # clients do.
        local plain=(-host 127.0.0.5 -port 10143 -user "$PH_USER" -pass "$PH_PASS")
        for tls in 1 0; do
            for login in cold warm; do
                stop_ph; start_ph
                [ $login = warm ] && probe populate "${PHP[@]}" -box INBOX -n 0 >/dev/null 2>&1
                sleep 2
                if [ $tls = 1 ]; then args=("${PHP[@]}"); else args=("${plain[@]}"); fi
                line=$(probe idle "${args[@]}" -n "$IDLE_N" -pids "$PH_PID" -hold 5s 2>>"$WORK/idlemem.err")
                echo "idlemem server=posthorn tls=$tls login=$login round=$r $line" | tee -a "$OUT"
            done
        done
    else
        m=$(pgrep -o -x dovecot)
        line=$(probe idle "${DVP[@]}" -n "$DV_IDLE_N" -pids "$m" -src-base 127.0.3.1 -per-ip 50 -hold 5s 2>>"$WORK/idlemem.err")
        echo "idlemem server=dovecot tls=1 round=$r $line" | tee -a "$OUT"
        sleep 3 # let the TLS sessions' processes end
        printf '%s:%s\n%s:%s\n' "$USER1" "$PASS1" "$USER2" "$PASS2" >"$WORK/dvusers"
        line=$(probe idle -host 127.0.0.1 -port "$IMAP_PORT" -user "$USER2" -pass "$PASS2" -users "$WORK/dvusers" \
            -n "$DV_PLAIN_N" -pids "$m" -hold 5s 2>>"$WORK/idlemem.err")
        echo "idlemem server=dovecot tls=0 round=$r $line" | tee -a "$OUT"
    fi
}

for r in $(seq "$ROUNDS"); do
    if has mix; then
        for c in $CLIENTS; do for s in $SERVERS; do run_mix "$s" "$c"; done; done
    fi
    if has scale; then
        stop_ph; start_ph # the first SELECT of the round is the first after a restart
        run_scale posthorn; run_scale dovecot
    fi
    if has idlelat; then for s in $SERVERS; do run_idlelat "$s"; done; fi
    if has idlemem; then run_idlemem posthorn; run_idlemem dovecot; fi
done

echo
python3 - "$OUT" <<'PY' | tee "$OUT.summary"
import re, statistics, sys
rows = [l.rstrip("\n") for l in open(sys.argv[1]) if not l.startswith("#")]
def num(s):
    m = re.match(r"(-?[0-9.]+)(ms|s|µs|us)?", s)
    if not m: return None
    v = float(m.group(1)); u = m.group(2) or ""
    return v * 1000 if u == "s" else v / 1000 if u in ("µs", "us") else v
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def fmt(v, unit=""):
    return "-" if v is None else ("%.1f%s" % (v, unit) if abs(v) >= 10 else "%.2f%s" % (v, unit))
res = {}
def add(key, server, v):
    res.setdefault(key, {}).setdefault(server, []).append(v)
for l in rows:
    kv = dict(re.findall(r"(\w+)=(\S+)", l.split(":")[0]))
    s = kv.get("server")
    if l.startswith("mix "):
        c = kv["clients"]
        add("mix cmds/s, %s clients" % c, s, num(re.search(r"([0-9.]+) cmds/s", l).group(1)))
        add("mix errors, %s clients" % c, s, num(re.search(r"errors=(\d+)", l).group(1)))
        add("mix server CPU ms/cmd, %s clients" % c, s, num(kv["cpu_ms_per_cmd"]))
    elif l.startswith("scale "):
        for name, pat in (("SELECT first", r"SELECT first=(\S+)"), ("SELECT warm (median)", r"SELECT first=\S+ median=(\S+)"),
                          ("FETCH 1:* (FLAGS)", r"FETCH 1:\* \(FLAGS\) first=\S+ median=(\S+)"),
                          ("UID SEARCH TEXT", r"UID SEARCH TEXT first=\S+ median=(\S+)"), ("UID SEARCH BODY", r"UID SEARCH BODY median=(\S+)")):
            m = re.search(pat, l)
            add("scale %s ms" % name, s, num(m.group(1)) if m else None)
    elif l.startswith("idlelat "):
        m = re.search(r"from SMTP connect median=(\S+) p90=\S+ p99=(\S+).*from end-of-DATA 250 median=(\S+) p99=(\S+)", l)
        if m:
            add("IDLE push ms, SMTP connect -> EXISTS, median", s, num(m.group(1)))
            add("IDLE push ms, SMTP connect -> EXISTS, p99", s, num(m.group(2)))
            add("IDLE push ms, SMTP 250 -> EXISTS, median", s, num(m.group(3)))
            add("IDLE push ms, SMTP 250 -> EXISTS, p99", s, num(m.group(4)))
    elif l.startswith("idlemem "):
        m = re.search(r"ok=(\d+).*RSS delta [^=]+= (-?[0-9.]+) KiB/conn, PSS delta [^=]+= (-?[0-9.]+) KiB/conn, USS delta [^=]+= (-?[0-9.]+) KiB/conn", l)
        if m:
            t = "TLS" if kv.get("tls") == "1" else "plaintext"
            if kv.get("login"):
                t += ", %s logins" % kv["login"]
            add("idle conn KiB RSS (%s)" % t, s, float(m.group(2)))
            add("idle conn KiB PSS (%s)" % t, s, float(m.group(3)))
            add("idle conn KiB USS (%s)" % t, s, float(m.group(4)))
            add("idle conns open (%s)" % t, s, float(m.group(1)))
pg = any("posthorn-pg" in v for v in res.values())
if pg:
    print("%-48s %12s %12s %12s %9s %9s" % ("medians of the rounds", "posthorn", "posthorn-pg", "dovecot", "ratio", "pg/embed"))
else:
    print("%-48s %12s %12s %9s" % ("medians of the rounds", "posthorn", "dovecot", "ratio"))
for k, v in res.items():
    p, d = med(v.get("posthorn", [])), med(v.get("dovecot", []))
    ratio = "%.2fx" % (p / d) if p is not None and d not in (None, 0) else "-"
    if pg:
        q = med(v.get("posthorn-pg", []))
        pr = "%.2fx" % (q / p) if q is not None and p not in (None, 0) else "-"
        print("%-48s %12s %12s %12s %9s %9s" % (k, fmt(p), fmt(q), fmt(d), ratio, pr))
    else:
        print("%-48s %12s %12s %9s" % (k, fmt(p), fmt(d), ratio))
PY
echo "raw lines: $OUT"
