#!/usr/bin/env python3
"""Two-way sync with mbsync (isync) against an IMAP server, checked from the
server side with imaplib.

usage: mbsync_sync.py HOST IMAPS_PORT SMTP_PORT CAFILE USER PASS WORKDIR

1. three messages arrive over SMTP; mbsync pulls them into a Maildir (bytes
   compared with the server's BODY[]);
2. locally one is flagged, one deleted and a new one written; mbsync pushes:
   the server shows \\Flagged, has expunged the deleted one, holds the new one;
3. the server marks one \\Seen; mbsync pulls the flag into the file name.
Prints "all ok"; any failure raises.
"""
import imaplib, os, random, re, smtplib, ssl, subprocess, sys, time

HOST, PORT, SMTP_PORT, CA, USER, PASS, WORK = sys.argv[1:8]
CTX = ssl.create_default_context(cafile=CA)
TAG = "mbsync-%06d" % random.randrange(10**6)
MAILDIR = os.path.join(WORK, "mail")


def fail(what, *detail):
    raise SystemExit("FAIL: " + what + "".join("\n  " + repr(d) for d in detail))


def imap():
    M = imaplib.IMAP4_SSL(HOST, int(PORT), ssl_context=CTX, timeout=60)
    M.login(USER, PASS)
    M.select("INBOX")
    return M


def search(M, subject):
    typ, dat = M.uid("SEARCH", "SUBJECT", '"%s"' % subject)
    return [int(x) for x in dat[0].split()]


def server_msg(M, uid):
    typ, dat = M.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[])")
    flags = re.search(rb"FLAGS \(([^)]*)\)", dat[0][0]).group(1).decode().split()
    return set(f.lower() for f in flags), dat[0][1]


def strip_tuid(b):
    """mbsync adds its own tracking header X-TUID to what it copies."""
    return re.sub(rb"(?m)^X-TUID: [^\r\n]*\r?\n", b"", b)


def mbsync(step):
    p = subprocess.run(["mbsync", "-c", os.path.join(WORK, "mbsyncrc"), "-a"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        fail("mbsync (%s) exited %d" % (step, p.returncode), p.stdout, p.stderr)


def local_files():
    """{subject tag: (path, maildir flags)} of the Maildir INBOX."""
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(MAILDIR, "INBOX", sub)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            p = os.path.join(d, f)
            data = open(p, "rb").read()
            m = re.search(rb"^Subject: (%s-\w+)" % TAG.encode(), data, re.M)
            if m:
                flags = f.split(":2,")[1] if ":2," in f else ""
                out[m.group(1).decode()] = (p, flags, data)
    return out


def pinned_cert():
    """mbsync matches host names only, not IP addresses: pin the server's own
    certificate (a "Host" certificate in mbsync's terms) after verifying it
    against the CA here."""
    import socket
    with socket.create_connection((HOST, int(PORT)), timeout=30) as raw:
        with CTX.wrap_socket(raw, server_hostname=HOST) as t:
            der = t.getpeercert(binary_form=True)
    path = os.path.join(WORK, "server.pem")
    with open(path, "w") as f:
        f.write(ssl.DER_cert_to_PEM_cert(der))
    return path


def main():
    os.makedirs(MAILDIR, exist_ok=True)
    cert = pinned_cert()
    with open(os.path.join(WORK, "mbsyncrc"), "w") as f:
        f.write("""IMAPAccount remote
Host %s
Port %s
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s
SystemCertificates no

IMAPStore remote
Account remote

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel qa
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
Sync All
""" % (HOST, PORT, USER, PASS.replace('"', '\\"'), cert, MAILDIR, MAILDIR))

    # 1. New mail arrives over SMTP and is pulled.
    s = smtplib.SMTP(HOST, int(SMTP_PORT), timeout=60)
    for i in (1, 2, 3):
        s.sendmail("sender@example.test", [USER],
                   "From: sender@example.test\r\nTo: %s\r\nSubject: %s-%d\r\n\r\nmessage %d for mbsync\r\n"
                   % (USER, TAG, i, i))
    s.quit()
    M = imap()
    deadline = time.time() + 60
    while len(search(M, TAG)) < 3:
        if time.time() > deadline:
            fail("the SMTP deliveries never reached INBOX", search(M, TAG))
        time.sleep(0.2)
        M.noop()
    uids = {"%s-%d" % (TAG, i): search(M, "%s-%d" % (TAG, i))[0] for i in (1, 2, 3)}
    mbsync("pull")
    loc = local_files()
    if set(loc) != set(uids):
        fail("mbsync did not pull the three messages", sorted(loc), uids)
    for name, uid in uids.items():
        _, body = server_msg(M, uid)
        if strip_tuid(loc[name][2]).replace(b"\r\n", b"\n") != body.replace(b"\r\n", b"\n"):
            fail("local copy differs from the server's BODY[]", loc[name][2], body)

    # 2. Local changes are pushed: flag, deletion, new message.
    p1, fl1, _ = loc[TAG + "-1"]
    base = p1.split(":2,")[0]
    os.rename(p1, base + ":2," + "".join(sorted(fl1 + "F")))
    os.remove(loc[TAG + "-2"][0])
    newfile = os.path.join(MAILDIR, "INBOX", "new", "%d.qa.local" % time.time())
    with open(newfile, "wb") as f:
        f.write(("From: %s\nTo: %s\nSubject: %s-local\n\nwritten locally\n" % (USER, USER, TAG)).encode())
    mbsync("push")
    M.logout()
    M = imap()
    flags, _ = server_msg(M, uids[TAG + "-1"])
    if "\\flagged" not in flags:
        fail("local flag not pushed: server flags of %s-1" % TAG, flags)
    if search(M, TAG + "-2"):
        fail("local deletion not expunged on the server", search(M, TAG + "-2"))
    typ, dat = M.uid("SEARCH", "ALL")
    if uids[TAG + "-2"] in [int(x) for x in dat[0].split()]:
        fail("deleted UID still in the mailbox")
    up = search(M, TAG + "-local")
    if len(up) != 1:
        fail("locally written message not uploaded", up)
    _, body = server_msg(M, up[0])
    want = ("From: %s\nTo: %s\nSubject: %s-local\n\nwritten locally\n" % (USER, USER, TAG)).encode()
    if strip_tuid(body).replace(b"\r\n", b"\n") != want:
        fail("uploaded bytes differ", body, want)

    # 3. A flag set on the server is pulled.
    M.uid("STORE", str(uids[TAG + "-3"]), "+FLAGS", r"(\Seen)")
    mbsync("pull flags")
    loc = local_files()
    if "S" not in loc[TAG + "-3"][1]:
        fail("server \\Seen not pulled into the Maildir name", loc[TAG + "-3"][0])
    if "F" not in loc[TAG + "-1"][1] or TAG + "-2" in loc:
        fail("local state changed by the third sync", sorted(loc))

    # Clean up the server's INBOX.
    for u in search(M, TAG):
        M.uid("STORE", str(u), "+FLAGS.SILENT", r"(\Deleted)")
    M.expunge()
    M.logout()
    print("all ok")


main()
