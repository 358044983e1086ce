"""Collects a maildrop with Python's poplib and prints what it saw as JSON.

usage: poplib_client.py HOST PORT USER PASSWORD plain|stls|ssl CAFILE [DELE-NUMBERS...]
"""
import base64
import json
import poplib
import ssl
import sys

host, port, user, password, mode, cafile = sys.argv[1:7]
dele = [int(n) for n in sys.argv[7:]]
ctx = ssl.create_default_context(cafile=cafile) if cafile else None
if mode == "ssl":
    p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=10)
else:
    p = poplib.POP3(host, int(port), timeout=10)
    if mode == "stls":
        p.stls(context=ctx)
out = {"welcome": p.getwelcome().decode(), "capa": sorted(p.capa().keys())}
p.user(user)
p.pass_(password)
out["stat"] = list(p.stat())
out["list"] = [l.decode() for l in p.list()[1]]
out["uidl"] = [l.decode() for l in p.uidl()[1]]
out["msgs"] = []
for i in range(1, out["stat"][0] + 1):
    resp, lines, octets = p.retr(i)
    data = b"".join(l + b"\r\n" for l in lines)
    out["msgs"].append({"resp": resp.decode(), "octets": octets, "data": base64.b64encode(data).decode()})
if out["stat"][0] > 0:
    resp, lines, octets = p.top(1, 0)
    out["top"] = base64.b64encode(b"".join(l + b"\r\n" for l in lines)).decode()
for n in dele:
    p.dele(n)
out["quit"] = p.quit().decode()
print(json.dumps(out))
