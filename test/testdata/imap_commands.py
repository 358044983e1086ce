#!/usr/bin/env python3
"""Exercise every IMAP command of posthorn's issue 3 with Python's imaplib and
check the data that comes back (bytes of bodies, flags, UIDs, sizes).

usage: imap_commands.py HOST STARTTLS_PORT IMAPS_PORT CAFILE USER PASS [--strict] [--src IP]

The same script runs against Dovecot (refstack) to prove it asks the right
questions; --strict additionally requires every capability the issue lists
and posthorn's hierarchy separator "/". Sections for an extension the server
does not advertise are skipped only without --strict. Prints "ok SECTION" per
section and "all ok" at the end; any failure raises with the exchange.
"""
import base64, datetime, imaplib, random, re, socket, ssl, sys, time

args = [a for a in sys.argv[1:] if not a.startswith("--")]
STRICT = "--strict" in sys.argv
SRC = None
if "--src" in sys.argv:
    SRC = sys.argv[sys.argv.index("--src") + 1]
    args.remove(SRC)
HOST, PORT, SPORT, CA, USER, PASS = args[0], int(args[1]), int(args[2]), args[3], args[4], args[5]
CTX = ssl.create_default_context(cafile=CA)
SUFFIX = "%06d" % random.randrange(10**6)

ISSUE_CAPS = ("IMAP4rev1 IMAP4rev2 IDLE UIDPLUS MOVE CONDSTORE QRESYNC SPECIAL-USE NAMESPACE "
              "LITERAL+ ESEARCH ENABLE UNSELECT ID SASL-IR STATUS=SIZE APPENDLIMIT QUOTA "
              "LIST-EXTENDED LIST-STATUS BINARY UTF8=ACCEPT").split()

for name, states in {
    "ID": ("NONAUTH", "AUTH", "SELECTED", "LOGOUT"),
    "ENABLE": ("AUTH", "SELECTED"),
    "UNSELECT": ("SELECTED",),
    "MOVE": ("SELECTED",),
    "SELECT": ("AUTH", "SELECTED"),
    "EXAMINE": ("AUTH", "SELECTED"),
}.items():
    imaplib.Commands[name] = states


class SrcMixin(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(SRC, 0) if SRC else None)


class Plain(SrcMixin):
    pass


class TLS(imaplib.IMAP4_SSL, SrcMixin):
    pass


class Fail(Exception):
    pass


def check(cond, what, *detail):
    if not cond:
        raise Fail(what + "".join("\n  " + repr(d) for d in detail))


def run(M, name, *a, want="OK"):
    """Runs one command; returns (status, tagged data, untagged responses by type)."""
    M.untagged_responses = {}
    try:
        typ, dat = M._command_complete(name, M._command(name, *a))
    except M.error as e:  # BAD
        typ, dat = "BAD", [str(e).encode()]
    unt = M.untagged_responses
    M.untagged_responses = {}
    if want is not None:
        ok = typ == want if isinstance(want, str) else typ in want
        check(ok, "%s %s: want %s, got %s" % (name, " ".join(map(str, a)), want, typ), dat, unt)
    return typ, dat, unt


def caps(M):
    _, _, unt = run(M, "CAPABILITY")
    return set(unt["CAPABILITY"][-1].decode().upper().split())


def connect_tls(user=USER, pw=PASS):
    M = TLS(HOST, SPORT, ssl_context=CTX, timeout=60)
    M.login(user, pw)
    return M


# ---- IMAP s-expression parsing (FETCH, LIST, STATUS, ...) -------------------

class Lit(bytes):
    pass


def segments(data):
    """imaplib hands a response as [(line, literal), ..., line]; flatten it."""
    out = []
    for d in data:
        if isinstance(d, tuple):
            out.append(("text", d[0]))
            out.append(("lit", d[1]))
        elif d is not None:
            out.append(("text", d))
    return out


def tokenize(segs):
    toks = []
    for kind, b in segs:
        if kind == "lit":
            toks.append(Lit(b))
            continue
        i, n = 0, len(b)
        while i < n:
            c = b[i:i + 1]
            if c in b" \r\n":
                i += 1
            elif c in b"()":
                toks.append(c.decode())
                i += 1
            elif c == b'"':
                j, s = i + 1, bytearray()
                while b[j:j + 1] != b'"':
                    if b[j:j + 1] == b"\\":
                        j += 1
                    s += b[j:j + 1]
                    j += 1
                toks.append(Lit(bytes(s)))
                i = j + 1
            elif c == b"{" or (c == b"~" and b[i + 1:i + 2] == b"{"):
                i = b.index(b"}", i) + 1  # the literal follows as the next segment
            else:
                j, depth = i, 0
                while j < n:
                    ch = b[j:j + 1]
                    if ch == b"[":
                        depth += 1
                    elif ch == b"]":
                        depth -= 1
                    elif depth == 0 and ch in b" ()":
                        break
                    j += 1
                toks.append(b[i:j].decode())
                i = j
    return toks


def parse_value(toks, i):
    t = toks[i]
    if t == "(":
        lst, i = [], i + 1
        while toks[i] != ")":
            v, i = parse_value(toks, i)
            lst.append(v)
        return lst, i + 1
    if isinstance(t, Lit):
        return bytes(t), i + 1
    if t == "NIL":
        return None, i + 1
    return t, i + 1


def parse_fetch(data):
    """Returns {seq: {ITEM: value}} from FETCH data."""
    res, cur = {}, []
    for d in data:
        cur.append(d)
        if not isinstance(d, tuple):
            toks = tokenize(segments(cur))
            cur = []
            if not toks:
                continue
            seq = int(toks[0])
            if toks[1] == "FETCH":
                toks = toks[1:]
                toks[0] = str(seq)
            items, _ = parse_value(toks, 1)
            d2 = res.setdefault(seq, {})
            for k in range(0, len(items), 2):
                d2[items[k].upper()] = items[k + 1]
    return res


def fetch(M, seqset, items, uid=True):
    a = ("FETCH", seqset, items) if uid else (seqset, items)
    typ, dat, unt = run(M, "UID" if uid else "FETCH", *a)
    return parse_fetch(unt.get("FETCH", []))


def by_uid(res):
    return {int(v["UID"]): v for v in res.values()}


def flagset(v):
    return set(f.lower() for f in v) - {"\\recent"}


def parse_list(lines):
    """LIST/LSUB lines -> {name: (attrs, extra)}."""
    out = {}
    for l in lines:
        toks = tokenize(segments([l] if not isinstance(l, tuple) else [l, b""]))
        attrs, i = parse_value(toks, 0)
        _, i = parse_value(toks, i)  # delimiter
        name, i = parse_value(toks, i)
        name = name if isinstance(name, str) else name.decode()
        extra = []
        while i < len(toks):
            v, i = parse_value(toks, i)
            extra.append(v)
        out[name] = (set(a.lower() for a in attrs), extra)
    return out


def parse_status(lines):
    out = {}
    for l in lines:
        toks = tokenize(segments([l]))
        name, i = parse_value(toks, 0)
        name = name if isinstance(name, str) else name.decode()
        items, _ = parse_value(toks, i)
        out[name] = {items[k].upper(): int(items[k + 1]) for k in range(0, len(items), 2)}
    return out


def code(dat, name):
    """Value of response code [NAME ...] in tagged text, or None."""
    for d in dat:
        s = d.decode() if isinstance(d, bytes) else str(d)
        m = re.search(r"\[" + re.escape(name) + r"(?: ([^\]]*))?\]", s)
        if m:
            return m.group(1) or ""
    return None


def untagged_code(unt, name):
    v = unt.get(name)
    return v[-1].decode() if v and v[-1] is not None else None


# ---- test messages -----------------------------------------------------------

ATTACH = bytes(range(256)) * 3 + b"\x00\xff\r\n\r\n.end"
TEXT2 = "Hello in a multipart message.\r\nSecond line with zebracorn.\r\n"


def msg1():
    return ("From: Alice Able <alice@example.test>\r\n"
            "To: Bob Baker <bob@example.test>, carol@example.org\r\n"
            "Cc: dave@example.net\r\n"
            "Subject: qa one plain\r\n"
            "Date: Thu, 01 Feb 2024 10:20:30 +0100\r\n"
            "Message-ID: <qa-one@example.test>\r\n"
            "X-QA: first\r\n"
            "\r\n"
            "Just a plain body with the word quokka.\r\n"
            ".line starting with a dot\r\n").encode()


B64 = base64.encodebytes(ATTACH).replace(b"\n", b"\r\n")


# The CRLF before a boundary belongs to the delimiter (RFC 2046 §5.1.1).
PART1 = TEXT2.encode()[:-2]
PART2 = B64[:-2]


def msg2():
    return (b"From: \"Carol Cole\" <carol@example.org>\r\n"
            b"To: alice@example.test\r\n"
            b"Subject: qa two multipart\r\n"
            b"Date: Fri, 02 Feb 2024 11:00:00 +0000\r\n"
            b"Message-ID: <qa-two@example.test>\r\n"
            b"In-Reply-To: <qa-one@example.test>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n"
            b"\r\n"
            b"preamble\r\n"
            b"--XyZ\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"\r\n" + TEXT2.encode() +
            b"--XyZ\r\n"
            b"Content-Type: application/octet-stream; name=\"blob.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"blob.bin\"\r\n"
            b"\r\n" + B64 +
            b"--XyZ--\r\n")


def msg3(i=3):
    return ("From: Dave Dunn <dave@example.net>\r\n"
            "To: alice@example.test\r\n"
            "Subject: qa number %d\r\n"
            "Date: Sat, 03 Feb 2024 12:00:00 +0000\r\n"
            "\r\n"
            "Body of message %d, wombat.\r\n" % (i, i)).encode()


def append(M, box, flags, date, body):
    typ, dat = M.append(box, flags, date, body)
    check(typ == "OK", "APPEND to %s" % box, dat)
    c = code(dat, "APPENDUID")
    return c


def select(M, box, readonly=False, params=None):
    a = (box,) if params is None else (box, params)
    _, dat, unt = run(M, "EXAMINE" if readonly else "SELECT", *a)
    M.state = "SELECTED"
    return dat, unt


# ---- sections ------------------------------------------------------------------

def s_greeting_starttls_login():
    """CAPABILITY, LOGINDISABLED before TLS, STARTTLS, LOGIN, AUTHENTICATE PLAIN (+SASL-IR)."""
    M = Plain(HOST, PORT, timeout=60)
    c = caps(M)
    check("IMAP4REV1" in c and "STARTTLS" in c, "capabilities before TLS", c)
    if STRICT:
        check("LOGINDISABLED" in c, "LOGINDISABLED before TLS", c)
    if "LOGINDISABLED" in c:
        typ, dat, _ = run(M, "LOGIN", USER, '"%s"' % PASS, want=("NO", "BAD"))
    run(M, "NOOP")
    M.starttls(CTX)
    c2 = caps(M)
    check("LOGINDISABLED" not in c2 and "STARTTLS" not in c2, "capabilities after STARTTLS", c2)
    check("AUTH=PLAIN" in c2, "AUTH=PLAIN after STARTTLS", c2)
    typ, dat, _ = run(M, "LOGIN", USER, '"wrong-%s"' % PASS, want="NO")
    M.login(USER, PASS)
    check(M.state == "AUTH", "state after LOGIN", M.state)
    c3 = caps(M)
    if STRICT:
        missing = [x for x in ISSUE_CAPS if x.upper() not in c3 and not any(y.startswith(x.upper() + "=") for y in c3)]
        check(not missing, "capabilities missing after login: %s" % missing, c3)
    typ, dat = M.logout()
    check(typ == "BYE", "LOGOUT answers * BYE", typ, dat)

    # AUTHENTICATE PLAIN, the client-first way imaplib does it (continuation).
    M = TLS(HOST, SPORT, ssl_context=CTX, timeout=60)
    M.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (USER, PASS)).encode())
    check(M.state == "AUTH", "AUTHENTICATE PLAIN", M.state)
    M.logout()
    # SASL-IR: the initial response on the command line (RFC 4959).
    M = TLS(HOST, SPORT, ssl_context=CTX, timeout=60)
    if "SASL-IR" in caps(M) or STRICT:
        bad = base64.b64encode(("\0%s\0nope" % USER).encode()).decode()
        typ, dat, _ = run(M, "AUTHENTICATE", "PLAIN", bad, want="NO")
        ir = base64.b64encode(("\0%s\0%s" % (USER, PASS)).encode()).decode()
        run(M, "AUTHENTICATE", "PLAIN", ir)
        M.state = "AUTH"
        run(M, "NOOP")
    M.logout()
    return c3


def s_session_info(M, c):
    """NOOP, ID, NAMESPACE, ENABLE."""
    run(M, "NOOP")
    if "ID" in c:
        _, _, unt = run(M, "ID", '("name" "imaplib-qa" "version" "1")')
        check("ID" in unt, "no * ID response", unt)
    typ, dat = M.namespace()
    check(typ == "OK" and dat and dat[0].startswith(b'(("" "/"))'), "NAMESPACE personal (\"\" \"/\")", dat)
    if "CONDSTORE" in c:
        _, _, unt = run(M, "ENABLE", "CONDSTORE")
        check("ENABLED" in unt and b"CONDSTORE" in unt["ENABLED"][-1].upper(), "ENABLE CONDSTORE", unt)
    # Unknown commands are BAD and the session stays usable.
    imaplib.Commands["XNOSUCHCMD"] = ("AUTH", "SELECTED")
    run(M, "XNOSUCHCMD", want="BAD")
    run(M, "NOOP")


def s_mailboxes(M, c):
    """CREATE (hierarchy, USE), LIST variants, SUBSCRIBE/UNSUBSCRIBE, LSUB, STATUS on empty."""
    top = "qa-%s" % SUFFIX
    for b in (top, top + "/child", top + "/child/grand", top + "-dst"):
        run(M, "CREATE", b)
    run(M, "CREATE", top, want="NO")  # exists already
    _, _, unt = run(M, "LIST", '""', '"%s*"' % top)
    l = parse_list(unt.get("LIST", []))
    check(set(l) == {top, top + "/child", top + "/child/grand", top + "-dst"}, "LIST * names", l)
    check("\\haschildren" in l[top][0], "\\HasChildren on parent", l)
    _, _, unt = run(M, "LIST", '""', '"%s/%%"' % top)
    l = parse_list(unt.get("LIST", []))
    check(set(l) == {top + "/child"}, "LIST % matches one level", l)
    _, _, unt = run(M, "LIST", '""', '""')
    check(unt.get("LIST") and b'"/"' in unt["LIST"][0], "LIST \"\" \"\" gives the delimiter", unt)
    _, _, unt = run(M, "LIST", '""', "inbox")
    l = parse_list(unt.get("LIST", []))
    check(list(l) == ["INBOX"], "INBOX is case-insensitive in LIST", l)
    # No name escapes the account.
    for bad in ("../" + top, "/etc", top + "//x"):
        run(M, "CREATE", '"%s"' % bad, want=("NO", "BAD"))

    run(M, "SUBSCRIBE", top + "/child")
    typ, lsub = M.lsub('""', top + "*")
    l = parse_list(lsub if lsub != [None] else [])
    check(set(l) == {top + "/child"}, "LSUB after SUBSCRIBE", l)
    if "LIST-EXTENDED" in c:
        _, _, unt = run(M, "LIST", "(SUBSCRIBED)", '""', '"%s*"' % top)
        l = parse_list(unt.get("LIST", []))
        check(set(l) == {top + "/child"} and "\\subscribed" in l[top + "/child"][0],
              "LIST (SUBSCRIBED)", l)
        _, _, unt = run(M, "LIST", '""', '("%s" "%s-dst")' % (top, top), "RETURN", "(CHILDREN SUBSCRIBED)")
        l = parse_list(unt.get("LIST", []))
        check(set(l) == {top, top + "-dst"}, "LIST with several patterns", l)
    run(M, "UNSUBSCRIBE", top + "/child")
    typ, lsub = M.lsub('""', top + "*")
    check(lsub in ([None], []), "LSUB after UNSUBSCRIBE", lsub)

    if "SPECIAL-USE" in c:
        _, _, unt = run(M, "LIST", '""', "*", "RETURN", "(SPECIAL-USE)")
        l = parse_list(unt.get("LIST", []))
        uses = set().union(*(a for a, _ in l.values()))
        if STRICT:
            for u in ("\\sent", "\\trash", "\\drafts", "\\junk"):
                check(u in uses, "special-use %s on a default mailbox" % u, l)
        _, _, unt = run(M, "LIST", "(SPECIAL-USE)", '""', "*")
        l2 = parse_list(unt.get("LIST", []))
        check(all(a & {"\\sent", "\\trash", "\\drafts", "\\junk", "\\archive", "\\all", "\\flagged"}
                  for a, _ in l2.values()), "LIST (SPECIAL-USE) lists only special-use boxes", l2)
    if "CREATE-SPECIAL-USE" in c or STRICT:
        run(M, "CREATE", top + "/arch", "(USE (\\Archive))")
        _, _, unt = run(M, "LIST", '""', top + "/arch", "RETURN", "(SPECIAL-USE)")
        l = parse_list(unt.get("LIST", []))
        check("\\archive" in l[top + "/arch"][0], "CREATE USE (\\Archive)", l)
        run(M, "DELETE", top + "/arch")
    if "STATUS=SIZE" in c:
        _, _, unt = run(M, "STATUS", top, "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)")
        st = parse_status(unt["STATUS"])[top]
        check(st["MESSAGES"] == 0 and st["SIZE"] == 0 and st["UNSEEN"] == 0, "STATUS of empty box", st)
    return top


def s_append_status(M, c, box):
    """APPEND (flags, date, APPENDUID), STATUS incl. SIZE/HIGHESTMODSEQ/APPENDLIMIT."""
    bodies = [msg1(), msg2(), msg3(3), msg3(4), msg3(5)]
    dates = ['"01-Feb-2024 10:20:30 +0100"', '"02-Feb-2024 11:00:00 +0000"'] + ['"03-Feb-2024 12:00:00 -0500"'] * 3
    flags = [r"(\Seen $Label1)", None, r"(\Flagged)", None, r"(\Answered \Draft)"]
    uids, validity = [], None
    for b, d, f in zip(bodies, dates, flags):
        ap = append(M, box, f, d, b)
        if "UIDPLUS" in c:
            check(ap is not None, "APPENDUID in APPEND's OK")
            v, u = ap.split()
            check(validity in (None, v), "UIDVALIDITY changes between APPENDs", ap)
            validity = v
            uids.append(int(u))
    if uids:
        check(uids == sorted(uids) and len(set(uids)) == 5, "APPENDUIDs grow", uids)
    # APPEND to a missing mailbox: NO [TRYCREATE].
    typ, dat = M.append(box + "-missing", None, None, msg3(9))
    check(typ == "NO" and code(dat, "TRYCREATE") is not None, "APPEND to missing box: NO [TRYCREATE]", typ, dat)
    items = "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"
    if "STATUS=SIZE" in c:
        items = items[:-1] + " SIZE)"
    if "CONDSTORE" in c:
        items = items[:-1] + " HIGHESTMODSEQ)"
    if "APPENDLIMIT" in c:
        items = items[:-1] + " APPENDLIMIT)"
    _, _, unt = run(M, "STATUS", box, items)
    st = parse_status(unt["STATUS"])[box]
    check(st["MESSAGES"] == 5, "STATUS MESSAGES", st)
    check(st["UNSEEN"] == 4, "STATUS UNSEEN", st)
    if uids:
        check(st["UIDNEXT"] > uids[-1] and str(st["UIDVALIDITY"]) == validity, "STATUS UIDNEXT/UIDVALIDITY", st, uids)
    if "SIZE" in st:
        check(st["SIZE"] == sum(map(len, bodies)), "STATUS SIZE = sum of appended sizes", st, sum(map(len, bodies)))
    if "HIGHESTMODSEQ" in st:
        check(st["HIGHESTMODSEQ"] > 0, "STATUS HIGHESTMODSEQ", st)
    if "APPENDLIMIT" in c:
        check(st.get("APPENDLIMIT", 0) > 0, "STATUS APPENDLIMIT", st)
    return bodies, uids, validity


def s_select_fetch(M, c, box, bodies, uids, validity):
    """SELECT responses; FETCH of every item with the data checked."""
    dat, unt = select(M, box, params="(CONDSTORE)" if "CONDSTORE" in c else None)
    check(unt.get("EXISTS", [b""])[-1] == b"5", "SELECT EXISTS 5", unt)
    check(code(dat, "READ-WRITE") is not None, "SELECT tagged OK [READ-WRITE]", dat)
    if validity:
        check(untagged_code(unt, "UIDVALIDITY") == validity, "SELECT UIDVALIDITY = APPENDUID's", unt)
        check(int(untagged_code(unt, "UIDNEXT")) > uids[-1], "SELECT UIDNEXT", unt)
    check("FLAGS" in unt and b"\\Seen" in unt["FLAGS"][-1], "SELECT FLAGS", unt)
    check("PERMANENTFLAGS" in unt and b"\\*" in unt["PERMANENTFLAGS"][-1], "PERMANENTFLAGS with \\*", unt)
    if "CONDSTORE" in c:
        check("HIGHESTMODSEQ" in unt, "SELECT (CONDSTORE) HIGHESTMODSEQ", unt)

    if not uids:
        uids = [int(v["UID"]) for v in fetch(M, "1:*", "(UID)", uid=False).values()]
    u1, u2, u3 = uids[0], uids[1], uids[2]

    r = by_uid(fetch(M, "1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE)"))
    check(sorted(r) == uids, "UID FETCH 1:* UIDs", r, uids)
    for u, b in zip(uids, bodies):
        check(int(r[u]["RFC822.SIZE"]) == len(b), "RFC822.SIZE of uid %d" % u, r[u], len(b))
    check(flagset(r[u1]["FLAGS"]) == {"\\seen", "$label1"}, "FLAGS from APPEND", r[u1])
    check(flagset(r[u3]["FLAGS"]) == {"\\flagged"}, "FLAGS from APPEND", r[u3])
    check(flagset(r[uids[4]]["FLAGS"]) == {"\\answered", "\\draft"}, "FLAGS from APPEND", r[uids[4]])
    idate = r[u1]["INTERNALDATE"].decode()
    got = datetime.datetime.strptime(idate, "%d-%b-%Y %H:%M:%S %z")
    want = datetime.datetime(2024, 2, 1, 9, 20, 30, tzinfo=datetime.timezone.utc)
    check(got == want, "INTERNALDATE as APPENDed", idate)

    # Whole bodies, byte for byte; BODY.PEEK leaves \Seen alone.
    r = by_uid(fetch(M, "1:*", "(BODY.PEEK[])"))
    for u, b in zip(uids, bodies):
        check(r[u]["BODY[]"] == b, "BODY.PEEK[] bytes of uid %d" % u, r[u]["BODY[]"][:200], b[:200])
    r = by_uid(fetch(M, str(u2), "(FLAGS)"))
    check("\\seen" not in flagset(r[u2]["FLAGS"]), "BODY.PEEK[] set \\Seen", r)
    r = by_uid(fetch(M, str(u2), "(BODY[TEXT])"))
    body2 = bodies[1]
    hdr_end = body2.index(b"\r\n\r\n") + 4
    check(r[u2]["BODY[TEXT]"] == body2[hdr_end:], "BODY[TEXT]", r[u2].get("BODY[TEXT]", b"")[:100])
    check("FLAGS" in r[u2] and "\\seen" in flagset(r[u2]["FLAGS"]),
          "BODY[TEXT] sets \\Seen and reports FLAGS in the same response", r[u2])
    r = by_uid(fetch(M, str(u2), "(RFC822.HEADER BODY.PEEK[HEADER] BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] "
                                  "BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM)] BODY.PEEK[]<10.20>)"))[u2]
    check(r["RFC822.HEADER"] == body2[:hdr_end] and r["BODY[HEADER]"] == body2[:hdr_end], "BODY[HEADER]", r)
    fields = r["BODY[HEADER.FIELDS (SUBJECT FROM)]"]
    check(fields == b'From: "Carol Cole" <carol@example.org>\r\nSubject: qa two multipart\r\n\r\n',
          "BODY[HEADER.FIELDS (SUBJECT FROM)]", fields)
    notf = r["BODY[HEADER.FIELDS.NOT (SUBJECT FROM)]"]
    check(b"Subject:" not in notf and notf.startswith(b"To: alice@example.test\r\n") and notf.endswith(b"\r\n\r\n"),
          "HEADER.FIELDS.NOT", notf)
    check(r["BODY[]<10>"] == body2[10:30], "partial BODY[]<10.20>", r["BODY[]<10>"], body2[10:30])

    # MIME parts.
    r = by_uid(fetch(M, str(u2), "(BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[2]<0.8>)"))[u2]
    check(r["BODY[1]"] == PART1, "BODY[1]", r["BODY[1]"])
    check(r["BODY[1.MIME]"] == b"Content-Type: text/plain; charset=utf-8\r\n\r\n", "BODY[1.MIME]", r["BODY[1.MIME]"])
    check(r["BODY[2]"] == PART2, "BODY[2] raw base64", r["BODY[2]"][:80])
    check(r["BODY[2.MIME]"].startswith(b"Content-Type: application/octet-stream"), "BODY[2.MIME]", r["BODY[2.MIME]"])
    check(r["BODY[2]<0>"] == B64[:8], "BODY[2]<0.8>", r["BODY[2]<0>"])
    if "BINARY" in c:
        r = by_uid(fetch(M, str(u2), "(BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1])"))[u2]
        check(r["BINARY[2]"] == ATTACH, "BINARY[2] decodes base64", r["BINARY[2]"][:40])
        check(int(r["BINARY.SIZE[2]"]) == len(ATTACH), "BINARY.SIZE[2]", r["BINARY.SIZE[2]"], len(ATTACH))
        check(r["BINARY[1]"] == PART1, "BINARY[1] of 7bit part", r["BINARY[1]"])

    # ENVELOPE and BODYSTRUCTURE.
    r = by_uid(fetch(M, "%d:%d" % (u1, u2), "(ENVELOPE BODYSTRUCTURE BODY)"))
    env = r[u1]["ENVELOPE"]
    check(env[1] == b"qa one plain", "ENVELOPE subject", env)
    check(env[2] == [[b"Alice Able", None, b"alice", b"example.test"]], "ENVELOPE from", env[2])
    check(env[3] == env[2] and env[4] == env[2], "ENVELOPE sender/reply-to default to from", env)
    check(len(env[5]) == 2 and env[5][1][2:] == [b"carol", b"example.org"], "ENVELOPE to", env[5])
    check(env[6] == [[None, None, b"dave", b"example.net"]], "ENVELOPE cc", env[6])
    check(env[7] is None and env[9] == b"<qa-one@example.test>", "ENVELOPE bcc/message-id", env)
    env2 = r[u2]["ENVELOPE"]
    check(env2[8] == b"<qa-one@example.test>", "ENVELOPE in-reply-to", env2)
    bs1 = r[u1]["BODYSTRUCTURE"]
    text1 = bodies[0][bodies[0].index(b"\r\n\r\n") + 4:]
    check([x.lower() if isinstance(x, bytes) else x for x in bs1[:2]] == [b"text", b"plain"], "BODYSTRUCTURE text/plain", bs1)
    check(int(bs1[6]) == len(text1) and int(bs1[7]) == text1.count(b"\r\n"), "BODYSTRUCTURE size/lines", bs1, len(text1))
    bs2 = r[u2]["BODYSTRUCTURE"]
    check(isinstance(bs2[0], list) and isinstance(bs2[1], list), "multipart BODYSTRUCTURE has two parts", bs2)
    check(bs2[2].lower() == b"mixed" and [p.lower() if isinstance(p, bytes) else p for p in bs2[3]] == [b"boundary", b"XyZ".lower()],
          "multipart subtype and boundary param", bs2)
    p1, p2 = bs2[0], bs2[1]
    check(p1[0].lower() == b"text" and int(p1[6]) == len(PART1) and int(p1[7]) == PART1.count(b"\r\n"), "part 1 structure", p1)
    check(p2[0].lower() == b"application" and p2[5].lower() == b"base64" and int(p2[6]) == len(PART2),
          "part 2 structure", p2, len(PART2))
    check(p2[8] and p2[8][0].lower() == b"attachment", "part 2 disposition", p2)
    b2 = r[u2]["BODY"]
    check(isinstance(b2[0], list) and b2[2].lower() == b"mixed" and len(b2) == 3, "BODY (no extension data)", b2)

    # RFC822, RFC822.TEXT (non-peek: set \Seen), macros, sequence-number FETCH.
    r = by_uid(fetch(M, str(uids[3]), "(RFC822.TEXT)"))
    b4 = bodies[3]
    check(r[uids[3]]["RFC822.TEXT"] == b4[b4.index(b"\r\n\r\n") + 4:], "RFC822.TEXT", r)
    r = by_uid(fetch(M, str(uids[3]), "(RFC822)"))
    check(r[uids[3]]["RFC822"] == b4, "RFC822", r)
    check("\\seen" in flagset(fetch(M, str(uids[3]), "(FLAGS)")[4]["FLAGS"]), "RFC822 sets \\Seen")
    r = fetch(M, "1:2", "FAST", uid=False)
    check(set(r) == {1, 2} and {"FLAGS", "INTERNALDATE", "RFC822.SIZE"} <= set(r[1]), "FETCH FAST", r)
    r = fetch(M, "2", "FULL", uid=False)
    check({"FLAGS", "ENVELOPE", "BODY", "RFC822.SIZE", "INTERNALDATE"} <= set(r[2]), "FETCH FULL", r)
    r = fetch(M, "*", "ALL", uid=False)
    check(set(r) == {5} and "ENVELOPE" in r[5], "FETCH * ALL", r)
    if "CONDSTORE" in c:
        r = fetch(M, "1:*", "(MODSEQ)", uid=False)
        check(all(int(v["MODSEQ"][0]) > 0 for v in r.values()), "FETCH MODSEQ", r)
    # Errors: a bad item is BAD; a UID FETCH of nothing is OK with no data.
    run(M, "FETCH", "1", "(NOSUCHITEM)", want="BAD")
    _, _, unt = run(M, "UID", "FETCH", "%d" % (uids[-1] + 1000), "(FLAGS)")
    check("FETCH" not in unt, "UID FETCH of an absent UID returns nothing", unt)
    return uids


def s_store(M, c, box, uids):
    """STORE +/-FLAGS, FLAGS, .SILENT, keywords, UNCHANGEDSINCE."""
    u1, u2, u3 = uids[:3]
    _, _, unt = run(M, "UID", "STORE", str(u2), "+FLAGS", r"(\Flagged $Work)")
    r = by_uid(parse_fetch(unt["FETCH"]))
    check(flagset(r[u2]["FLAGS"]) == {"\\seen", "\\flagged", "$work"}, "+FLAGS result", r)
    _, _, unt = run(M, "UID", "STORE", str(u2), "-FLAGS.SILENT", r"(\Seen)")
    if "CONDSTORE" not in c:
        check("FETCH" not in unt, ".SILENT sent a FETCH", unt)
    r = by_uid(fetch(M, str(u2), "(FLAGS)"))
    check(flagset(r[u2]["FLAGS"]) == {"\\flagged", "$work"}, "-FLAGS.SILENT", r)
    _, _, unt = run(M, "STORE", "1", "FLAGS", r"(\Answered)")
    r = parse_fetch(unt["FETCH"])
    check(flagset(r[1]["FLAGS"]) == {"\\answered"}, "FLAGS replace", r)
    # \Recent cannot be set by a client (RFC 3501 §2.3.2): refused (Dovecot) or ignored.
    typ, _, unt = run(M, "STORE", "1", "+FLAGS", r"(\Recent)", want=("NO", "BAD", "OK"))
    check(typ != "OK" or b"\\Recent" not in b" ".join(x for x in unt.get("FETCH", []) if isinstance(x, bytes)),
          "STORE +FLAGS (\\Recent) set \\Recent", unt)
    # Keywords persist: another session sees them.
    M2 = connect_tls()
    select(M2, box, readonly=True)
    r = by_uid(fetch(M2, str(u2), "(FLAGS)"))
    check("$work" in flagset(r[u2]["FLAGS"]), "keyword seen by another session", r)
    M2.logout()
    if "CONDSTORE" in c:
        r = by_uid(fetch(M, "%d,%d" % (u1, u3), "(MODSEQ)"))
        m1, m3 = int(r[u1]["MODSEQ"][0]), int(r[u3]["MODSEQ"][0])
        # Change u1 so its modseq passes m1, then a conditional store on both
        # with UNCHANGEDSINCE m1 must fail for u1 only (RFC 7162 §3.1.3).
        run(M, "UID", "STORE", str(u1), "+FLAGS.SILENT", "($Bump)")
        since = max(m1, m3)
        typ, dat, unt = run(M, "UID", "STORE", "%d,%d" % (u1, u3), "(UNCHANGEDSINCE %d)" % since, "+FLAGS", "($Cond)")
        mod = code(dat, "MODIFIED")
        check(mod is not None and str(u1) in re.split(r"[,:]", mod) and str(u3) not in re.split(r"[,:]", mod),
              "UNCHANGEDSINCE: [MODIFIED %d] expected" % u1, dat, unt)
        r = by_uid(fetch(M, "%d,%d" % (u1, u3), "(FLAGS MODSEQ)"))
        check("$cond" not in flagset(r[u1]["FLAGS"]) and "$cond" in flagset(r[u3]["FLAGS"]),
              "UNCHANGEDSINCE applied to the unchanged message only", r)
        check(int(r[u3]["MODSEQ"][0]) > m3, "MODSEQ grows on STORE", r, m3)
        typ, dat, unt = run(M, "UID", "STORE", str(u3), "(UNCHANGEDSINCE 0)", "+FLAGS", "($Never)")
        check(code(dat, "MODIFIED") is not None, "UNCHANGEDSINCE 0 always fails", dat)


def s_search(M, c, box, uids):
    """SEARCH and UID SEARCH with many keys; ESEARCH."""
    def uidsearch(*crit):
        _, _, unt = run(M, "UID", "SEARCH", *crit)
        v = b" ".join(x or b"" for x in unt.get("SEARCH", [b""]))
        v = re.sub(rb"\(MODSEQ \d+\)", b"", v)  # RFC 7162 §3.1.5
        return sorted(int(x) for x in v.split())
    u = uids
    check(uidsearch("ALL") == u, "UID SEARCH ALL", uidsearch("ALL"))
    check(uidsearch("SUBJECT", '"qa two"') == [u[1]], "SUBJECT", uidsearch("SUBJECT", '"qa two"'))
    check(uidsearch("FROM", "carol") == [u[1]], "FROM")
    check(uidsearch("TO", "bob@example.test") == [u[0]], "TO")
    check(uidsearch("BODY", "quokka") == [u[0]], "BODY quokka", uidsearch("BODY", "quokka"))
    check(uidsearch("BODY", "zebracorn") == [u[1]], "BODY in a MIME part", uidsearch("BODY", "zebracorn"))
    check(uidsearch("TEXT", "wombat") == u[2:], "TEXT", uidsearch("TEXT", "wombat"))
    check(uidsearch("HEADER", "X-QA", "first") == [u[0]], "HEADER X-QA")
    check(uidsearch("HEADER", "Message-ID", '"qa-two"') == [u[1]], "HEADER Message-ID")
    check(uidsearch("FLAGGED") == [u[1], u[2]], "FLAGGED", uidsearch("FLAGGED"))
    check(uidsearch("KEYWORD", "$Work") == [u[1]], "KEYWORD")
    check(uidsearch("UNKEYWORD", "$Work", "FLAGGED") == [u[2]], "UNKEYWORD and FLAGGED (AND)")
    check(uidsearch("OR", "FROM", "carol", "SUBJECT", '"number 5"') == [u[1], u[4]], "OR")
    check(uidsearch("NOT", "SUBJECT", "qa") == [], "NOT")
    check(uidsearch("LARGER", "1000") == [u[1]], "LARGER", uidsearch("LARGER", "1000"))
    check(uidsearch("SMALLER", "1000") == [u[0]] + u[2:], "SMALLER")
    check(uidsearch("UID", "%d:%d" % (u[1], u[3])) == u[1:4], "UID set")
    check(uidsearch("2:3") == u[1:3], "sequence set")
    check(uidsearch("SENTBEFORE", "02-Feb-2024") == [u[0]], "SENTBEFORE", uidsearch("SENTBEFORE", "02-Feb-2024"))
    check(uidsearch("SINCE", "03-Feb-2024") == u[2:], "SINCE (internal date)", uidsearch("SINCE", "03-Feb-2024"))
    check(uidsearch("ON", "02-Feb-2024") == [u[1]], "ON", uidsearch("ON", "02-Feb-2024"))
    check(uidsearch("DRAFT", "ANSWERED") == [u[4]], "DRAFT ANSWERED")
    check(uidsearch("CHARSET", "UTF-8", "SUBJECT", "multipart") == [u[1]], "CHARSET UTF-8")
    run(M, "UID", "SEARCH", "CHARSET", "X-NOPE", "ALL", want="NO")
    run(M, "SEARCH", "NOSUCHKEY", want="BAD")
    _, _, unt = run(M, "SEARCH", "SUBJECT", "qa", "NOT", "FLAGGED")
    seqs = sorted(int(x) for x in b" ".join(unt["SEARCH"]).split())
    check(seqs == [1, 4, 5], "SEARCH by sequence number", seqs)
    if "CONDSTORE" in c:
        r = by_uid(fetch(M, "1:*", "(MODSEQ)"))
        ms = {k: int(v["MODSEQ"][0]) for k, v in r.items()}
        pivot = ms[u[2]]
        got = uidsearch("MODSEQ", str(pivot))
        check(got == sorted(k for k, m in ms.items() if m >= pivot), "SEARCH MODSEQ", got, ms)
    if "ESEARCH" in c:
        _, _, unt = run(M, "UID", "SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "SUBJECT", "qa")
        es = b" ".join(unt.get("ESEARCH", [b""])).decode()
        check(re.search(r"\bMIN %d\b" % u[0], es) and re.search(r"\bMAX %d\b" % u[4], es)
              and re.search(r"\bCOUNT 5\b", es) and re.search(r"(^|[ )])UID\b", es)
              and es.startswith('(TAG "'), "ESEARCH (with the TAG correlator, RFC 4731 §3.1)", es)
        _, _, unt = run(M, "SEARCH", "RETURN", "(COUNT)", "BODY", "nothing-matches-this")
        es = b" ".join(unt.get("ESEARCH", [b""])).decode()
        check("COUNT 0" in es, "ESEARCH COUNT 0", es)


def s_copy_move_expunge(M, c, box, uids, bodies):
    """COPY (COPYUID), MOVE, EXPUNGE with correct sequence numbers, UID EXPUNGE, CLOSE, UNSELECT, EXAMINE."""
    dst = box + "-dst"
    u = uids
    typ, dat, unt = run(M, "UID", "COPY", "%d,%d" % (u[0], u[1]), dst)
    if "UIDPLUS" in c:
        cu = code(dat, "COPYUID")
        check(cu is not None, "COPYUID", dat)
        _, src, dsts = cu.split()
        check(src in ("%d,%d" % (u[0], u[1]), "%d:%d" % (u[0], u[1])), "COPYUID source set", cu)
    run(M, "UID", "COPY", str(u[0]), dst + "-missing", want="NO")
    typ, dat, unt = run(M, "UID", "COPY", str(u[0]), dst + "-missing", want="NO")
    check(code(dat, "TRYCREATE") is not None, "COPY to missing box: [TRYCREATE]", dat)

    # MOVE u[4] (seq 5) to dst: EXPUNGE 5 and COPYUID in an untagged OK.
    typ, dat, unt = run(M, "UID", "MOVE", str(u[4]), dst)
    check(unt.get("EXPUNGE") == [b"5"] or b"VANISHED" in b" ".join(unt.get("VANISHED", [])), "MOVE expunges seq 5", unt)
    check(code(dat, "COPYUID") is not None or "COPYUID" in unt, "MOVE reports COPYUID", dat, unt)
    r = fetch(M, "1:*", "(UID)", uid=False)
    check(sorted(int(v["UID"]) for v in r.values()) == u[:4], "after MOVE", r)

    M2 = connect_tls()
    select(M2, dst, readonly=True)
    r = by_uid(fetch(M2, "1:*", "(BODY.PEEK[] FLAGS)"))
    got = sorted(r.values(), key=lambda v: int(v["UID"]))
    check([v["BODY[]"] for v in got] == [bodies[0], bodies[1], bodies[4]], "COPY/MOVE copied the bytes")
    check({"\\answered"} | ({"$bump"} if "CONDSTORE" in c else set()) <= flagset(got[0]["FLAGS"]), "COPY keeps flags", got[0])
    M2.logout()

    # EXPUNGE seq 2 and 3 of 4: responses must be "2 2" or "3 2".
    run(M, "UID", "STORE", "%d,%d" % (u[1], u[2]), "+FLAGS.SILENT", r"(\Deleted)")
    _, _, unt = run(M, "EXPUNGE")
    ex = [int(x) for x in unt.get("EXPUNGE", [])]
    check(ex in ([2, 2], [3, 2]), "EXPUNGE sequence numbers", ex)
    r = fetch(M, "1:*", "(UID)", uid=False)
    check({k: int(v["UID"]) for k, v in r.items()} == {1: u[0], 2: u[3]}, "after EXPUNGE", r)
    if "UIDPLUS" in c:
        run(M, "UID", "STORE", "%d,%d" % (u[0], u[3]), "+FLAGS.SILENT", r"(\Deleted)")
        _, _, unt = run(M, "UID", "EXPUNGE", str(u[3]))
        check([int(x) for x in unt.get("EXPUNGE", [])] == [2], "UID EXPUNGE expunges only the named UID", unt)
        r = fetch(M, "1:*", "(UID FLAGS)", uid=False)
        check(list(r) == [1] and int(r[1]["UID"]) == u[0], "after UID EXPUNGE", r)
    # CLOSE silently expunges \Deleted.
    typ, dat, unt = run(M, "CLOSE")
    check("EXPUNGE" not in unt, "CLOSE sent EXPUNGE responses", unt)
    M.state = "AUTH"
    _, _, unt = run(M, "STATUS", box, "(MESSAGES)")
    n = parse_status(unt["STATUS"])[box]["MESSAGES"]
    check(n == (0 if "UIDPLUS" in c else 2), "CLOSE expunged \\Deleted", n)
    run(M, "FETCH", "1", "(FLAGS)", want="BAD")  # not selected any more

    # UNSELECT does not expunge; EXAMINE is read-only.
    select(M, dst)
    run(M, "STORE", "1", "+FLAGS.SILENT", r"(\Deleted)")
    run(M, "UNSELECT")
    M.state = "AUTH"
    dat, unt = select(M, dst, readonly=True)
    check(code(dat, "READ-ONLY") is not None, "EXAMINE: [READ-ONLY]", dat)
    check(unt.get("EXISTS", [b""])[-1] == b"3", "UNSELECT kept the \\Deleted message", unt)
    # Dovecot answers OK "Store ignored with read-only mailbox"; NO is the
    # usual answer. Either way the flag must stay.
    run(M, "STORE", "1", "-FLAGS", r"(\Deleted)", want=("NO", "OK"))
    r = fetch(M, "1", "(FLAGS)", uid=False)
    check("\\deleted" in flagset(r[1]["FLAGS"]), "STORE under EXAMINE changed flags", r)
    fetch(M, "2", "(BODY[])", uid=False)
    r = fetch(M, "2", "(FLAGS)", uid=False)
    check("\\seen" not in flagset(r[2]["FLAGS"]), "BODY[] under EXAMINE set \\Seen", r)
    _, _, unt = run(M, "EXPUNGE", want=("NO", "OK"))  # Dovecot: OK, and nothing expunged
    check("EXPUNGE" not in unt, "EXPUNGE under EXAMINE expunged", unt)
    run(M, "CLOSE")  # nothing expunged when read-only
    M.state = "AUTH"
    _, _, unt = run(M, "STATUS", dst, "(MESSAGES)")
    check(parse_status(unt["STATUS"])[dst]["MESSAGES"] == 3, "CLOSE after EXAMINE expunged", unt)


def idle_start(M):
    tag = M._new_tag()
    M.send(tag + b" IDLE\r\n")
    line = M._get_line()
    check(line.startswith(b"+"), "IDLE continuation", line)
    return tag


def idle_wait(M, pattern, limit=15.0):
    """Reads untagged lines until one matches pattern; returns it."""
    deadline = time.time() + limit
    seen = []
    while time.time() < deadline:
        M.sock.settimeout(max(0.1, deadline - time.time()))
        line = M._get_line()
        seen.append(line)
        if re.match(pattern, line):
            M.sock.settimeout(60)
            return line
    raise Fail("IDLE: no %r within %.0fs; got %r" % (pattern, limit, seen))


def idle_done(M, tag):
    M.send(b"DONE\r\n")
    while True:
        line = M._get_line()
        if line.startswith(tag):
            check(line.split()[1] == b"OK", "IDLE tagged OK", line)
            return


def s_idle(c, box):
    """IDLE sees another session's APPEND (EXISTS), flag change (FETCH) and EXPUNGE."""
    M = connect_tls()
    _, unt = select(M, box)
    n = int(unt["EXISTS"][-1]) + 1
    run(M, "NOOP")
    M2 = connect_tls()
    tag = idle_start(M)
    append(M2, box, None, None, msg3(7))
    idle_wait(M, rb"\* %d EXISTS" % n)
    select(M2, box)
    run(M2, "STORE", str(n), "+FLAGS.SILENT", r"(\Flagged)")
    line = idle_wait(M, rb"\* %d FETCH " % n)
    check(b"\\Flagged" in line, "IDLE flag update", line)
    run(M2, "STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
    run(M2, "EXPUNGE")
    idle_wait(M, rb"\* (1 EXPUNGE|VANISHED)")
    idle_done(M, tag)
    _, _, unt = run(M, "NOOP")
    M2.logout()
    M.logout()


def s_rename_inbox_back(M, c, old, n_inbox):
    _, _, unt = run(M, "STATUS", old, "(MESSAGES)")
    check(parse_status(unt["STATUS"])[old]["MESSAGES"] == n_inbox + 1, "RENAME INBOX moved the messages", unt)
    _, _, unt = run(M, "STATUS", "INBOX", "(MESSAGES)")
    check(parse_status(unt["STATUS"])["INBOX"]["MESSAGES"] == 0, "INBOX empty after RENAME INBOX", unt)
    # Put them back.
    select(M, old)
    run(M, "MOVE" if "MOVE" in c else "COPY", "1:*", "INBOX")
    run(M, "UNSELECT") if "UNSELECT" in c else run(M, "CLOSE")
    M.state = "AUTH"
    run(M, "DELETE", old)


def s_rename_delete(M, c, box):
    """RENAME (children move), RENAME INBOX, DELETE, UIDVALIDITY of a recreated box."""
    new = box + "-renamed"
    run(M, "RENAME", box, new)
    _, _, unt = run(M, "LIST", '""', '"%s*"' % box)
    l = parse_list(unt.get("LIST", []))
    check(new + "/child/grand" in l and box not in l and box + "/child" not in l, "RENAME moved the subtree", l)
    run(M, "RENAME", new, box + "-dst", want="NO")  # target exists
    run(M, "RENAME", "nosuch-%s" % SUFFIX, box + "-x", want="NO")
    # RENAME INBOX moves its messages and leaves an empty INBOX (RFC 9051 §6.3.6).
    _, _, unt = run(M, "STATUS", "INBOX", "(MESSAGES)")
    n_inbox = parse_status(unt["STATUS"])["INBOX"]["MESSAGES"]
    append(M, "INBOX", None, None, msg3(8))
    old = box + "-oldinbox"
    typ, dat, _ = run(M, "RENAME", "inbox", old, want=None if not STRICT else "OK")
    if typ != "OK":  # Dovecot on Maildir: NO [CANNOT]
        check(code(dat, "CANNOT") is not None, "RENAME INBOX refused without [CANNOT]", dat)
        select(M, "INBOX")
        run(M, "STORE", "*", "+FLAGS.SILENT", r"(\Deleted)")
        run(M, "CLOSE")
        M.state = "AUTH"
        old = None
    if old:
        s_rename_inbox_back(M, c, old, n_inbox)
    run(M, "DELETE", "INBOX", want="NO")
    # DELETE and recreate: new UIDVALIDITY.
    _, _, unt = run(M, "STATUS", box + "-dst", "(UIDVALIDITY)")
    v1 = parse_status(unt["STATUS"])[box + "-dst"]["UIDVALIDITY"]
    run(M, "DELETE", box + "-dst")
    run(M, "SELECT", box + "-dst", want="NO")
    run(M, "CREATE", box + "-dst")
    _, _, unt = run(M, "STATUS", box + "-dst", "(UIDVALIDITY MESSAGES)")
    st = parse_status(unt["STATUS"])[box + "-dst"]
    check(st["UIDVALIDITY"] != v1 and st["MESSAGES"] == 0, "recreated mailbox has a new UIDVALIDITY", v1, st)
    for b in (box + "-dst", new + "/child/grand", new + "/child", new):
        run(M, "DELETE", b)
    _, _, unt = run(M, "LIST", '""', '"%s*"' % box)
    check(not unt.get("LIST"), "mailboxes left behind", unt)


def s_utf7_utf8(M, c, box):
    """Modified UTF-7 names (rev1); UTF-8 names after ENABLE UTF8=ACCEPT; LIST-STATUS."""
    name7 = "%s-Entw&APw-rfe" % box
    run(M, "CREATE", name7)
    _, _, unt = run(M, "LIST", '""', '"%s-Entw*"' % box)
    check(list(parse_list(unt.get("LIST", []))) == [name7], "mUTF-7 name listed", unt)
    if "LIST-STATUS" in c:
        _, _, unt = run(M, "LIST", '""', '"%s-Entw*"' % box, "RETURN", "(STATUS (MESSAGES UIDVALIDITY))")
        st = parse_status(unt.get("STATUS", []))
        check(name7 in st and st[name7]["MESSAGES"] == 0, "LIST-STATUS", unt)
    if "UTF8=ACCEPT" in c:
        M2 = connect_tls()
        _, _, unt = run(M2, "ENABLE", "UTF8=ACCEPT")
        check(b"UTF8=ACCEPT" in b" ".join(unt.get("ENABLED", [b""])).upper(), "ENABLE UTF8=ACCEPT", unt)
        M2._encoding = "utf-8"
        _, _, unt = run(M2, "LIST", '""', '"%s-Entw*"' % box)
        names = [n for n in parse_list(unt.get("LIST", []))]
        check(names == ["%s-Entwürfe" % box], "UTF-8 name after UTF8=ACCEPT", unt)
        M2.logout()
    run(M, "DELETE", name7)


def s_rev2(c, box):
    """ENABLE IMAP4rev2: SELECT without RECENT, ESEARCH for SEARCH, LIST on SELECT."""
    if "IMAP4REV2" not in c:
        return
    M = connect_tls()
    _, _, unt = run(M, "ENABLE", "IMAP4rev2")
    check(b"IMAP4REV2" in b" ".join(unt.get("ENABLED", [b""])).upper(), "ENABLE IMAP4rev2", unt)
    run(M, "CREATE", box + "-rev2")
    append(M, box + "-rev2", None, None, msg3(11))
    dat, unt = select(M, box + "-rev2")
    check("RECENT" not in unt, "rev2 SELECT sent RECENT", unt)
    check("LIST" in unt, "rev2 SELECT sends a LIST response", unt)
    _, _, unt = run(M, "UID", "SEARCH", "ALL")
    check("ESEARCH" in unt and "SEARCH" not in unt, "rev2 SEARCH answers ESEARCH", unt)
    run(M, "UNSELECT")
    M.state = "AUTH"
    run(M, "DELETE", box + "-rev2")
    M.logout()


def s_quota(M, c):
    if "QUOTA" not in c and not any(x.startswith("QUOTA=") for x in c):
        return
    _, _, unt = run(M, "GETQUOTAROOT", "INBOX")
    check("QUOTAROOT" in unt, "GETQUOTAROOT answers QUOTAROOT", unt)
    q = unt.get("QUOTA")
    if q:
        m = re.search(rb"STORAGE (\d+) (\d+)", b" ".join(q))
        check(m is not None, "QUOTA STORAGE usage limit", q)


def s_qresync(c, box):
    """QRESYNC (RFC 7162 §3.2): SELECT with known state gets VANISHED (EARLIER)
    and the flag changes; EXPUNGE answers VANISHED; UID FETCH CHANGEDSINCE
    VANISHED."""
    if "QRESYNC" not in c:
        return
    qb = box + "-qr"
    M = connect_tls()
    run(M, "CREATE", qb)
    for i in range(5):
        append(M, qb, None, None, msg3(20 + i))
    _, _, unt = run(M, "ENABLE", "QRESYNC")
    check(b"QRESYNC" in b" ".join(unt.get("ENABLED", [b""])).upper(), "ENABLE QRESYNC", unt)
    _, unt = select(M, qb)
    validity = untagged_code(unt, "UIDVALIDITY")
    hms = int(untagged_code(unt, "HIGHESTMODSEQ"))
    uids = sorted(by_uid(fetch(M, "1:*", "(UID)")))
    run(M, "UNSELECT")
    M.state = "AUTH"
    # Another session expunges two and flags one.
    M2 = connect_tls()
    select(M2, qb)
    run(M2, "UID", "STORE", "%d,%d" % (uids[1], uids[3]), "+FLAGS.SILENT", r"(\Deleted)")
    run(M2, "EXPUNGE")
    run(M2, "UID", "STORE", str(uids[4]), "+FLAGS.SILENT", r"(\Flagged)")
    M2.logout()
    known = "%d:%d" % (uids[0], uids[4])
    dat, unt = select(M, qb, params="(QRESYNC (%s %d %s))" % (validity, hms, known))
    van = b" ".join(x for x in unt.get("VANISHED", []) if x).decode()
    check(van.startswith("(EARLIER) ") and expand(van.split()[1]) == {uids[1], uids[3]},
          "SELECT (QRESYNC ...) VANISHED (EARLIER)", van, uids)
    r = by_uid(parse_fetch(unt.get("FETCH", [])))
    check(set(r) == {uids[4]} and "\\flagged" in flagset(r[uids[4]]["FLAGS"]) and "MODSEQ" in r[uids[4]],
          "SELECT (QRESYNC ...) sends the changed flags with MODSEQ", unt.get("FETCH"))
    check(unt.get("EXISTS", [b""])[-1] == b"3", "EXISTS after QRESYNC select", unt)
    # EXPUNGE in a QRESYNC session answers VANISHED, not EXPUNGE.
    run(M, "UID", "STORE", str(uids[0]), "+FLAGS.SILENT", r"(\Deleted)")
    _, _, unt = run(M, "EXPUNGE")
    check("EXPUNGE" not in unt and b" ".join(unt.get("VANISHED", [b""])).strip() == str(uids[0]).encode(),
          "EXPUNGE under QRESYNC: VANISHED %d" % uids[0], unt)
    # UID FETCH ... (CHANGEDSINCE hms VANISHED): the expunged UIDs as VANISHED
    # (EARLIER), the changed message's flags.
    _, _, unt = run(M, "UID", "FETCH", "1:*", "(FLAGS)", "(CHANGEDSINCE %d VANISHED)" % hms)
    van = b" ".join(x for x in unt.get("VANISHED", []) if x).decode()
    check(van.startswith("(EARLIER) ") and expand(van.split()[1]) == {uids[0], uids[1], uids[3]},
          "UID FETCH (CHANGEDSINCE VANISHED)", van, uids)
    r = by_uid(parse_fetch(unt.get("FETCH", [])))
    check(set(r) == {uids[4]}, "UID FETCH CHANGEDSINCE returns only the changed message", r)
    run(M, "UNSELECT")
    M.state = "AUTH"
    run(M, "DELETE", qb)
    M.logout()


def expand(seqset):
    out = set()
    for part in seqset.split(","):
        a, _, b = part.partition(":")
        out |= set(range(int(a), int(b or a) + 1))
    return out


def s_literal_plus(M, c, box):
    """APPEND with a non-synchronizing literal (RFC 7888 LITERAL+), and a
    pipelined burst of them, checked by their bytes."""
    if "LITERAL+" not in c and "LITERAL-" not in c:
        return
    lb = box + "-lit"
    run(M, "CREATE", lb)
    bodies = [msg3(40 + i) for i in range(3)]
    tags = []
    data = b""
    for b in bodies:
        t = M._new_tag()
        tags.append(t)
        data += t + b" APPEND " + lb.encode() + b" {%d+}\r\n" % len(b) + b + b"\r\n"
    M.send(data)  # one write: no continuation awaited
    for t in tags:
        typ, dat = M._command_complete("APPEND", t)
        check(typ == "OK", "pipelined APPEND with LITERAL+", dat)
    select(M, lb, readonly=True)
    r = fetch(M, "1:*", "(BODY.PEEK[])", uid=False)
    check([r[i]["BODY[]"] for i in sorted(r)] == bodies, "LITERAL+ APPEND bytes", r)
    run(M, "CLOSE")
    M.state = "AUTH"
    run(M, "DELETE", lb)


def main():
    c = s_greeting_starttls_login()
    print("ok login/starttls/authenticate")
    M = connect_tls()
    s_session_info(M, c)
    print("ok noop/id/namespace/enable")
    box = s_mailboxes(M, c)
    print("ok create/list/lsub/subscribe")
    bodies, uids, validity = s_append_status(M, c, box)
    print("ok append/status")
    uids = s_select_fetch(M, c, box, bodies, uids, validity)
    print("ok select/fetch")
    s_store(M, c, box, uids)
    print("ok store")
    s_search(M, c, box, uids)
    print("ok search")
    s_copy_move_expunge(M, c, box, uids, bodies)
    print("ok copy/move/expunge/close/unselect/examine")
    s_idle(c, box)
    print("ok idle")
    s_utf7_utf8(M, c, box)
    print("ok utf7/utf8/list-status")
    s_rev2(c, box)
    print("ok rev2")
    s_qresync(c, box)
    print("ok qresync")
    s_literal_plus(M, c, box)
    print("ok literal+")
    s_quota(M, c)
    print("ok quota")
    s_rename_delete(M, c, box)
    print("ok rename/delete")
    M.logout()
    print("all ok")


if __name__ == "__main__":
    main()
