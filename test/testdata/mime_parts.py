# Reads an RFC 5322 message from stdin with Python's email package (an
# independent MIME parser) and prints its structure as JSON: selected
# header fields, and for every leaf part its content type, filename,
# Content-ID, and the SHA-256 of its decoded payload (text also decoded).
import email
import email.policy
import hashlib
import json
import sys

msg = email.message_from_binary_file(sys.stdin.buffer, policy=email.policy.default)
out = {
    "defects": [type(d).__name__ for d in msg.defects],
    "subject": str(msg["subject"]),
    "from": str(msg["from"]),
    "to": str(msg["to"]),
    "bcc": msg["bcc"] is not None,
    "content_type": msg.get_content_type(),
    "parts": [],
}
for part in msg.walk():
    if part.is_multipart():
        continue
    payload = part.get_payload(decode=True) or b""
    p = {
        "content_type": part.get_content_type(),
        "filename": part.get_filename(),
        "content_id": part["content-id"],
        "sha256": hashlib.sha256(payload).hexdigest(),
        "defects": [type(d).__name__ for d in part.defects],
    }
    if part.get_content_maintype() == "text":
        p["text"] = part.get_content()
    out["parts"].append(p)
json.dump(out, sys.stdout)
