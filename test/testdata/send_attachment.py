#!/usr/bin/env python3
"""Send one message with an attachment over SMTP with Python's smtplib and
email packages (an independent client).
usage: send_attachment.py HOST PORT FROM TO ATTACHMENT-FILE"""
import smtplib
import sys
from email.message import EmailMessage

host, port, sender, rcpt, path = sys.argv[1:6]
msg = EmailMessage()
msg["From"] = "Zoë Sender <%s>" % sender
msg["To"] = rcpt
msg["Subject"] = "Rechnung für März"
msg["Message-ID"] = "<route-e2e@remote.test>"
msg.set_content("Hallo, anbei die Rechnung.\n")
msg.add_alternative("<p>Hallo, anbei die <b>Rechnung</b>.</p>\n", subtype="html")
with open(path, "rb") as f:
    msg.add_attachment(f.read(), maintype="application", subtype="pdf", filename="Rechnung März.pdf")
with smtplib.SMTP(host, int(port), timeout=60) as s:
    s.ehlo("client.remote.test")
    s.send_message(msg)
