"""POP3 logins for the maildrop lock tests (test/cluster_pop3_test.go),
with Python's poplib over implicit TLS.

pop3_lock.py hold HOST PORT CA USER PASSWORD
    logs in, prints "held N" (N messages), then runs commands read from
    stdin, one a line, printing each reply, or "error REPLY" when the
    server answers -ERR or has closed the connection: "dele N", "noop",
    "quit" (the last). End of input exits without QUIT.
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
    cmd = line.split()
    try:
        if cmd[0] == "dele":
            print(p.dele(int(cmd[1])).decode(), flush=True)
        elif cmd[0] == "noop":
            print(p.noop().decode(), flush=True)
        elif cmd[0] == "quit":
            print(p.quit().decode(), flush=True)
            break
    except poplib.error_proto as e:
        reply = e.args[0]
        print("error", reply.decode() if isinstance(reply, bytes) else reply, flush=True)
    except OSError as e:
        print("error", e, flush=True)
