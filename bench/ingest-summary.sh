#!/usr/bin/env bash
# bench/ingest-summary.sh FILE — medians and ratios of the smtp-ingest lines
# in FILE (written by bench/ingest.sh), per label: accepted msgs/s, stored
# end-to-end msgs/s (for servers that store), peak PSS (RSS counts shared
# pages once per process, which inflates multi-process servers), errors.
set -euo pipefail
awk '
/^smtp-ingest/ {
    delete v
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    k = v["label"]; rates[k] = rates[k] " " v["msgs_per_s"]; pss[k] = pss[k] " " v["server_pss_peak_mb"]
    if ("e2e_msgs_per_s" in v) e2e[k] = e2e[k] " " v["e2e_msgs_per_s"]
    cpu[k] = cpu[k] " " v["cpu_ms_per_msg"]; err[k] += v["errors"]; runs[k]++
    if ("db_cpu_ms_per_msg" in v) db[k] = db[k] " " v["db_cpu_ms_per_msg"]
    nth[k]++; rate[k, nth[k]] = v["msgs_per_s"]
}
function median(s,   a, n, i, j, t) {
    n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n ? a[int((n + 1) / 2)] : "-"
}
END {
    printf "%-22s %5s %10s %10s %12s %13s %12s %7s\n", "label", "runs", "msgs/s", "e2e/s", "cpu_ms/msg", "db_cpu_ms/msg", "peak_pss_mb", "errors"
    for (k in rates) {
        m[k] = median(rates[k])
        printf "%-22s %5d %10.1f %10s %12s %13s %12s %7d\n", k, runs[k], m[k], (k in e2e ? median(e2e[k]) : "-"), median(cpu[k]), (k in db ? median(db[k]) : "-"), median(pss[k]), err[k]
    }
    for (k in m) if (k ~ /^posthorn-pg\//) {
        c = k; sub(/^posthorn-pg/, "", c)
        if (m["posthorn" c] > 0) printf "posthorn-pg%s / posthorn%s (PostgreSQL / embedded) = %.2fx\n", c, c, m[k] / m["posthorn" c]
    }
    for (k in m) if (k ~ /^posthorn-pg2\//) {
        c = k; sub(/^posthorn-pg2/, "", c)
        if (m["posthorn-pg2" c] > 0 && m["posthorn-pg-2rcpt" c] > 0) {
            printf "posthorn-pg2%s / posthorn-pg-2rcpt%s (two nodes / one, same work) = %.2fx\n", c, c, m["posthorn-pg2" c] / m["posthorn-pg-2rcpt" c]
            # The same rounds paired: the i-th run of each.
            a = "posthorn-pg2" c; b = "posthorn-pg-2rcpt" c; pr = ""; won = 0; n = 0
            for (i = 1; i <= nth[a] && i <= nth[b]; i++) { r = rate[a, i] / rate[b, i]; pr = pr sprintf(" %.2f", r); n++; if (r >= 0.9) won++ }
            printf "  per round:%s; median %.2fx, %d of %d rounds >= 0.9x\n", pr, median(pr), won, n
        }
    }
    for (k in m) if (k ~ /^posthorn\//) {
        c = k; sub(/^posthorn/, "", c)
        if (m["postfix" c] > 0) printf "posthorn%s / postfix%s = %.2fx\n", c, c, m[k] / m["postfix" c]
        if (m["smtp-sink" c] > 0) printf "posthorn%s / smtp-sink%s = %.0f%%\n", c, c, 100 * m[k] / m["smtp-sink" c]
    }
}' "$1"
