package cli

import (
	"context"

	"github.com/posthorn/posthorn/internal/sendmail"
)

func sendmailCommand() *command {
	return &command{
		name:    "sendmail",
		summary: "send a message from standard input (sendmail-compatible, for PHP mail(), cron, scripts)",
		usage:   "[-t] [-i] [-f sender] [-F name] [-C config] [recipient ...] < message",
		help: `A drop-in for /usr/sbin/sendmail: ln -s /usr/bin/posthorn /usr/sbin/sendmail
(the binary called as "sendmail" runs this command). The message, read on
standard input, goes to the running server's local submission socket
([sendmail] socket), which checks the sender, signs it with DKIM and
delivers or queues it like submitted mail. Line endings become CRLF; a
missing From: is made from the sender (and -F), Date: and Message-ID: are
added by the server; Bcc: is removed.

  -t          also send to the To:, Cc: and Bcc: addresses
  -i, -oi     a line with a lone "." does not end the message
  -f, -r ADDR envelope sender (default: your login name at the server's
              host name; "<>" for none); a bare name gets @host
  -F NAME     full name for the From: field added when missing
  -C FILE     posthorn configuration naming the socket
  -bs         speak SMTP on standard input and output
  -bi, -I, -q nothing to do (aliases are in the store, the queue runs itself)
Other Sendmail options (-odi, -oem, -v, -bm, -B, -N, -R, -V, -h, -L, -O,
-X, -e, -p, -A, -c, -x, -m, -n, -G, -U) are accepted and ignored.

The socket is taken from -C FILE, else $POSTHORN_SENDMAIL_SOCKET, else
/etc/posthorn/posthorn.toml when readable, else /run/posthorn/sendmail.sock.
Either every recipient is accepted or nothing is sent. Exit status (as
sendmail's, sysexits.h): 0 sent; 64 bad usage or no recipients; 65
malformed message or address; 67 unknown recipient; 69 refused; 75 the
server is not running or asked to try later (nothing was sent); 77 sender
not allowed or no permission for the socket.`,
		raw: func(ctx context.Context, env *Env, args []string) int {
			return sendmail.Run(ctx, sendmail.IO{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr, Getenv: env.Getenv}, args)
		},
	}
}
