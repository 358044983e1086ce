#!/usr/bin/env python3
"""Read messages (paths in argv) with Python's email package, an
independent MIME parser, and print what it found, one JSON line per
message: the decoded address and subject fields, the MIME tree, and every
leaf part's metadata and decoded bytes (base64). One process for many
messages: starting Python is the slow part on a loaded machine."""
import base64
import email
import email.policy
import json
import sys

# Parsed as text: header fields may hold raw UTF-8 (RFC 6532), which the
# bytes parser leaves undecoded; bodies are 7bit, quoted-printable or base64.
def read(path):
    with open(path, "rb") as f:
        return email.message_from_string(f.read().decode("utf-8"), policy=email.policy.default)

def report(msg):
    def addrs(name):
        h = msg[name]
        if h is None:
            return None
        return [{"name": a.display_name, "email": a.addr_spec} for a in h.addresses]

    def tree(p):
        if p.is_multipart():
            return {"type": p.get_content_type(), "parts": [tree(c) for c in p.iter_parts()]}
        return {"type": p.get_content_type()}

    leaves = []
    for p in msg.walk():
        if p.is_multipart():
            continue
        cid = p.get("Content-ID")
        leaves.append({
            "content_type": p.get_content_type(),
            "charset": p.get_content_charset(),
            "filename": p.get_filename(),
            "content_id": str(cid).strip("<>") if cid else None,
            "disposition": p.get_content_disposition(),
            "cte": p.get("Content-Transfer-Encoding"),
            "data": base64.b64encode(p.get_payload(decode=True)).decode(),
        })

    defects = [str(d) for p in msg.walk() for d in p.defects]
    return {
        "from": addrs("From"), "to": addrs("To"), "cc": addrs("Cc"),
        "reply_to": addrs("Reply-To"), "bcc": addrs("Bcc"),
        "subject": str(msg["Subject"]) if msg["Subject"] is not None else None,
        "message_id": msg["Message-ID"], "date": msg["Date"],
        "headers": {k: str(v) for k, v in msg.items() if k.startswith("X-") or k.startswith("List-")},
        "tree": tree(msg), "leaves": leaves, "defects": defects,
    }


for path in sys.argv[1:]:
    print(json.dumps(report(read(path))))
