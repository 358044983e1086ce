#!/usr/bin/env bash
# test.sh — runs every posthorn test: formatting, vet, the race-enabled test
# suite with real clients (swaks, Python's smtplib), short fuzz runs, and a
# static-binary build. Installs the external test tools with apt-get when run
# as root; under CI=true a missing tool is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

# External tools the tests talk to, as "command:debian-package".
TOOLS=(swaks:swaks python3:python3 curl:curl fetchmail:fetchmail getmail:getmail6 msmtp:msmtp pebble:pebble pebble-challtestsrv:pebble smtp-sink:postfix mbsync:isync php:php-cli openssl:openssl haproxy:haproxy)

step "test tools"
missing=()
for t in "${TOOLS[@]}"; do
    command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t##*:}")
done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
fi
for t in "${TOOLS[@]}"; do
    if ! command -v "${t%%:*}" >/dev/null 2>&1; then
        if [ "${CI:-}" = true ]; then
            echo "missing test tool ${t%%:*} (Debian package ${t##*:}) and CI=true: failing" >&2
            exit 1
        fi
        echo "warning: ${t%%:*} missing; tests that need it will be skipped (they fail under CI=true)" >&2
    fi
done

# Python modules the tests import, as "module:debian-package". Debian's
# packages install for /usr/bin/python3, which the tests try first (a python3
# earlier in PATH, e.g. pyenv's, may not see them).
PYMODULES=(dkim:python3-dkim authres:python3-authres)
has_pymod() { /usr/bin/python3 -c "import $1" >/dev/null 2>&1 || python3 -c "import $1" >/dev/null 2>&1; }
for m in "${PYMODULES[@]}"; do
    has_pymod "${m%%:*}" && continue
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing: ${m##*:}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${m##*:}" >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${m##*:}" >/dev/null; }
    fi
    if ! has_pymod "${m%%:*}"; then
        if [ "${CI:-}" = true ]; then
            echo "missing Python module ${m%%:*} (Debian package ${m##*:}) and CI=true: failing" >&2
            exit 1
        fi
        echo "warning: Python module ${m%%:*} missing; tests that need it will be skipped" >&2
    fi
done

# PostgreSQL for the store/postgres tests, whose harness (pgtest) runs a
# private cluster unless POSTHORN_TEST_PG names a server. Debian keeps
# initdb off PATH, under /usr/lib/postgresql/<version>/bin.
has_pg() { command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
if [ -z "${POSTHORN_TEST_PG:-}" ] && ! has_pg; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing: postgresql"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
    fi
    if ! has_pg; then
        if [ "${CI:-}" = true ]; then
            echo "missing PostgreSQL (Debian package postgresql) and CI=true: failing" >&2
            exit 1
        fi
        echo "warning: PostgreSQL missing; store/postgres tests will be skipped (they fail under CI=true)" >&2
    fi
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt-formatted:"; echo "$unformatted"; exit 1; fi

step "go vet"
go vet ./...

step "static build (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -o /dev/null ./cmd/posthorn

step "go test -race"
go test -race -timeout 12m ./...

step "end-to-end tests on PostgreSQL"
# The dev-mode tests of test/ again with every dev server on its own
# PostgreSQL database (POSTHORN_TEST_STORE; internal/store/postgres/pgtest):
# IMAP (imaplib, mbsync, go-imap, IDLE, the command suite), POP3,
# submission, sendmail and the HTTP API (TestDevModeQuickstart and the
# README's API examples, TestREADMEAPIExamples), SIGKILL during ingest
# (every 250 committed once), SIGTERM mid-transaction and inbound
# routes; and the `posthorn serve` tests with the [store] table in their
# configuration (test/store_test.go's serveConfigAt, runAt): API sends,
# API bounces and suppressions, webhooks, inbound events, outbound
# delivery, its SIGKILL restart, sendmail and DKIM, MTA-STS and
# REQUIRETLS over DANE (queue show of a refused message), the README's
# webhook verifier and the wake-up of the queue at enqueue (about 30 s
# more in all). Not the 100,000-message test: it fills SQLite directly;
# not TestAPIKeyStoredHashed, which reads the embedded store's files;
# not the Postfix peer (about 20 s; its outbound path is
# TestOutboundDelivery's). The two-node tests (test/cluster*_test.go) ran
# above.
POSTHORN_TEST_STORE=postgres go test -race -timeout 10m -count=1 -run 'TestDevMode|TestREADMEAPIExamples|TestCrashSafetySIGKILL|TestSIGTERMFinishesTransaction|TestInboundRouteDelivers|TestHTTPAPISend|TestAPIBounceSuppression|TestWebhookEvents|TestInboundEventWebhook|TestOutboundDelivery|TestOutboundCrashRestart|TestSendmail|TestDKIMSignedDelivery|TestMTASTSEnforceWithoutSTARTTLS|TestREQUIRETLSOverDANE|TestREADMEWebhookVerifier|TestQueueWakeOnEnqueue' -skip 'TestDevModeIMAPScale100k' ./test

step "fuzz (short runs)"
# A count, not a duration: with a duration go1.26's fuzz coordinator can
# fail a target with a bare "context deadline exceeded" when the time runs
# out under CPU load (golang/go#75804, fixed in go1.27). FUZZ_TIME=30s works
# for a longer local run.
fuzz_time=${FUZZ_TIME:-10000x}
for pkg in $(go list ./...); do
    dir=$(go list -f '{{.Dir}}' "$pkg")
    for f in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' "$dir"/*_test.go 2>/dev/null | awk '{print $2}'); do
        echo "$pkg $f"
        out=$(go test -run='^$' -fuzz="^${f}\$" -fuzztime="$fuzz_time" "$pkg" 2>&1) || { echo "$out"; exit 1; }
    done
done

step "all tests passed"
