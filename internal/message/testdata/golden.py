#!/usr/bin/env python3
"""Record Dovecot's BODYSTRUCTURE, BODY and ENVELOPE for testdata/msg/*.eml.

Run from internal/message/testdata with the reference stack up
(/work/shared/refstack/start.sh). It APPENDs each message (LF turned into
CRLF, as the Go tests do) to a scratch mailbox of USER1 on the reference
Dovecot, fetches the three items and writes golden/NAME.txt:

    BODYSTRUCTURE <value>
    BODY <value>
    ENVELOPE <value>

and golden/NAME.sections with BODY[section] and BINARY[part] for a fixed
list of sections (SECTIONS, BINARY below). Values are the raw wire text; literals keep their {n}CRLF prefix. The Go
test (golden_test.go) compares posthorn's output with these files and does
not need Dovecot. Where Dovecot deviates from RFC 9051 the Go test lists the
difference instead of copying it.
"""
import glob
import imaplib
import os
import re
import socket
import sys

ENV = "/var/lib/refstack/target.env"
MAILBOX = "posthorn-golden"


def load_env():
    env = {}
    with open(ENV) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


class Client(imaplib.IMAP4):
    # Connect from 127.0.0.1, where the reference allows plaintext LOGIN.
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=("127.0.0.1", 0))


def wire(data):
    out = b""
    for item in data:
        if isinstance(item, tuple):
            out += item[0] + b"\r\n" + item[1]
        elif item is not None:
            out += item
    return out


def fetch(c, uid, item):
    typ, data = c.uid("FETCH", uid, "(%s)" % item)
    if typ != "OK":
        raise SystemExit("FETCH %s failed: %r" % (item, data))
    raw = wire(data)
    m = re.match(rb"^\d+ \((.*)\)$", raw, re.S)
    body = m.group(1)
    # Drop "UID n" wherever Dovecot put it.
    body = re.sub(rb"(^| )UID \d+", b"", body).strip()
    if not body.startswith(item.encode() + b" "):
        raise SystemExit("unexpected FETCH response %r" % raw)
    return body[len(item) + 1:]


# Sections fetched for every message into golden/NAME.sections, whether
# the message has them or not (Dovecot's answer for a missing part is
# recorded too).
SECTIONS = ["HEADER", "TEXT", "1", "1.MIME", "1.HEADER", "2", "2.MIME", "2.HEADER", "2.TEXT",
            "1.1", "1.2", "1.1.MIME", "2.1", "2.2", "2.1.MIME", "2.2.MIME", "3", "3.MIME",
            "HEADER.FIELDS (FROM subject X-None)", "HEADER.FIELDS.NOT (From Subject Content-Type)",
            "2.HEADER.FIELDS (Subject From)"]
BINARY = ["1", "2", "1.1", "1.2", "2.1"]


def fetch_item(c, uid, item, name):
    typ, data = c.uid("FETCH", uid, "(%s)" % item)
    if typ != "OK":
        return b"NO"
    raw = wire(data)
    m = re.match(rb"^\d+ \((.*)\)$", raw, re.S)
    if m is None:
        return b"NONE"
    # Not strip(): a literal at the end keeps its trailing line breaks.
    body = re.sub(rb"(^| )UID \d+", b"", m.group(1)).lstrip()
    # Dovecot upper-cases header field names in the response name.
    if not body.upper().startswith(name.upper().encode() + b" "):
        raise SystemExit("unexpected FETCH response %r" % raw)
    return body[len(name) + 1:]


def main():
    env = load_env()
    c = Client(env["HOST"], int(env["IMAP_PORT"]))
    c.login(env["USER1"], env["PASS1"])
    c.delete(MAILBOX)
    c.create(MAILBOX)
    names = sorted(glob.glob("msg/*.eml"))
    for path in names:
        name = os.path.basename(path)[:-4]
        raw = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        typ, data = c.append(MAILBOX, None, None, raw)
        if typ != "OK":
            raise SystemExit("APPEND %s: %r" % (name, data))
        m = re.search(rb"APPENDUID \d+ (\d+)", data[0])
        uid = m.group(1).decode()
        c.select(MAILBOX, readonly=True)
        out = b""
        for item in ("BODYSTRUCTURE", "BODY", "ENVELOPE"):
            out += item.encode() + b" " + fetch(c, uid, item) + b"\n"
        with open("golden/%s.txt" % name, "wb") as f:
            f.write(out)
        out = b""
        for sec in SECTIONS:
            # Spaces in the item name are written as "+" to keep one space
            # between name and value.
            key = ("BODY[%s]" % sec).replace(" ", "+")
            out += key.encode() + b" " + fetch_item(c, uid, "BODY.PEEK[%s]" % sec, "BODY[%s]" % sec) + b"\n"
        for sec in BINARY:
            out += b"BINARY[%s] " % sec.encode() + fetch_item(c, uid, "BINARY.PEEK[%s]" % sec, "BINARY[%s]" % sec) + b"\n"
            out += b"BINARY.SIZE[%s] " % sec.encode() + fetch_item(c, uid, "BINARY.SIZE[%s]" % sec, "BINARY.SIZE[%s]" % sec) + b"\n"
        with open("golden/%s.sections" % name, "wb") as f:
            f.write(out)
        print(name, file=sys.stderr)
    c.logout()


if __name__ == "__main__":
    main()
