"""POP3 logins for TestClusterPOP3Lock, with Python's poplib over implicit TLS.

pop3_lock.py hold HOST PORT CA USER PASSWORD
    logs in, prints "held N" (N messages), then waits on stdin: a line
    "quit" sends QUIT and prints its reply; end of input exits without QUIT.
pop3_lock.py try HOST PORT CA USER PASSWORD
    logs in and QUITs, printing "ok N", or prints "refused REPLY" when the
    login is answered -ERR.
"""
import poplib
import ssl
import sys

mode, host, port, ca, user, password = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=60)
p.user(user)
try:
    p.pass_(password)
except poplib.error_proto as e:
    print("refused", e.args[0].decode(), flush=True)
    p.quit()
    sys.exit(0)
n = p.stat()[0]
if mode == "try":
    p.quit()
    print("ok", n, flush=True)
    sys.exit(0)
print("held", n, flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        print(p.quit().decode(), flush=True)
        break
