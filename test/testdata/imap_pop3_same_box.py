#!/usr/bin/env python3
"""IMAP and POP3 on the same mailbox at once (RFC 1939 §8's latitude).

usage: imap_pop3_same_box.py HOST IMAPS_PORT POP3_PORT SMTP_PORT CAFILE USER PASS [--src IP]

A POP3 session (STLS) is open while imaplib expunges one of its messages:
POP3 keeps listing it until QUIT, RETR of it answers -ERR, the others still
come back whole, and the session carries on. A message delivered meanwhile
is not in the POP3 session but IMAP sees it at once. After QUIT the POP3
deletion and the IMAP expunge are both in effect.
"""
import imaplib, poplib, random, re, smtplib, socket, ssl, sys, time

argv = [a for a in sys.argv[1:]]
SRC = None
if "--src" in argv:
    SRC = argv[argv.index("--src") + 1]
    argv = [a for a in argv if a not in ("--src", SRC)]
HOST, IMAPS, POP3, SMTP, CA, USER, PASS = argv[:7]
CTX = ssl.create_default_context(cafile=CA)
TAG = "both-%06d" % random.randrange(10**6)


def fail(what, *detail):
    raise SystemExit("FAIL: " + what + "".join("\n  " + repr(d) for d in detail))


def body(i):
    return ("From: sender@example.test\r\nTo: %s\r\nSubject: %s-%d\r\n\r\n"
            "message %d of the IMAP+POP3 test\r\n.dot line\r\n" % (USER, TAG, i, i))


def deliver(i):
    s = smtplib.SMTP(HOST, int(SMTP), timeout=60)
    s.sendmail("sender@example.test", [USER], body(i))
    s.quit()


def imap():
    M = imaplib.IMAP4_SSL(HOST, int(IMAPS), ssl_context=CTX, timeout=60)
    M.login(USER, PASS)
    return M


def uids_of(M, i):
    typ, dat = M.uid("SEARCH", "SUBJECT", '"%s-%d"' % (TAG, i))
    return [int(x) for x in dat[0].split()]


def wait_delivered(M, i):
    deadline = time.time() + 60
    while not uids_of(M, i):
        if time.time() > deadline:
            fail("delivery %d never reached INBOX" % i)
        time.sleep(0.1)
        M.noop()


class POP(poplib.POP3):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(SRC, 0) if SRC else None)


def pop_login():
    P = POP(HOST, int(POP3), timeout=60)
    P.stls(context=CTX)
    P.user(USER)
    P.pass_(PASS)
    return P


def pop_index(P):
    """{msgno: subject tag} of this session's maildrop (our messages only)."""
    out = {}
    n, _ = P.stat()
    for k in range(1, n + 1):
        try:
            _, lines, _ = P.top(k, 0)
        except poplib.error_proto:
            continue
        for l in lines:
            m = re.match(rb"Subject: (%s-\d)" % TAG.encode(), l)
            if m:
                out[k] = m.group(1).decode()
    return out


def main():
    M = imap()
    M.select("INBOX")
    for i in (1, 2, 3):
        deliver(i)
    for i in (1, 2, 3):
        wait_delivered(M, i)

    P = pop_login()
    n0, size0 = P.stat()
    idx = pop_index(P)
    num = {v: k for k, v in idx.items()}
    if sorted(num) != ["%s-%d" % (TAG, i) for i in (1, 2, 3)]:
        fail("POP3 maildrop lacks the three messages", idx)
    _, listing, _ = P.list()

    # IMAP expunges message 2 while the POP3 session is open.
    u2 = uids_of(M, 2)[0]
    M.uid("STORE", str(u2), "+FLAGS.SILENT", r"(\Deleted)")
    typ, dat = M.expunge()
    if typ != "OK" or uids_of(M, 2):
        fail("IMAP EXPUNGE", typ, dat)

    # POP3 still lists it; RETR of it is an error; the others come back whole.
    n1, size1 = P.stat()
    if (n1, size1) != (n0, size0):
        fail("POP3 STAT changed under an open session", (n0, size0), (n1, size1))
    _, listing1, _ = P.list()
    if listing1 != listing:
        fail("POP3 LIST changed under an open session", listing, listing1)
    try:
        resp = P.retr(num[TAG + "-2"])
        fail("RETR of a message expunged by IMAP answered +OK", resp)
    except poplib.error_proto as e:
        if not str(e).startswith("b'-ERR"):
            fail("RETR of the expunged message", e)
    for i in (1, 3):
        _, lines, _ = P.retr(num["%s-%d" % (TAG, i)])
        got = b"\r\n".join(lines) + b"\r\n"
        if not got.endswith(body(i).split("\r\n\r\n", 1)[1].encode()) or ("Subject: %s-%d" % (TAG, i)).encode() not in got:
            fail("RETR %d bytes" % i, got)
    P.noop()

    # A new delivery: IMAP sees it, the POP3 session does not.
    deliver(4)
    wait_delivered(M, 4)
    typ, dat = M.noop()
    if P.stat() != (n0, size0):
        fail("a new delivery showed up in the open POP3 session", P.stat())
    try:
        P.list(n0 + 1)
        fail("LIST of a message beyond the maildrop answered +OK")
    except poplib.error_proto:
        pass

    # DELE 1 and QUIT: message 1 goes; the expunged 2 causes no trouble.
    P.dele(num[TAG + "-1"])
    resp = P.quit()
    if not resp.startswith(b"+OK"):
        fail("QUIT", resp)

    P = pop_login()
    idx = pop_index(P)
    if sorted(idx.values()) != [TAG + "-3", TAG + "-4"]:
        fail("after QUIT the maildrop should hold 3 and 4", idx)
    P.quit()
    M.noop()  # lets the IMAP session learn of the POP3 deletion
    if uids_of(M, 1) or not uids_of(M, 3) or not uids_of(M, 4):
        fail("IMAP after POP3 QUIT", uids_of(M, 1), uids_of(M, 3), uids_of(M, 4))

    for i in (3, 4):
        for u in uids_of(M, i):
            M.uid("STORE", str(u), "+FLAGS.SILENT", r"(\Deleted)")
    M.expunge()
    M.logout()
    print("all ok")


main()
