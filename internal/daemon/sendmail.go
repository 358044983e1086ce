package daemon

import (
	"fmt"

	"github.com/posthorn/posthorn/internal/peercred"
	"github.com/posthorn/posthorn/internal/smtpserver"
	"github.com/posthorn/posthorn/internal/submission"
)

// roleSendmail is the local submission socket's role in logs.
const roleSendmail = "sendmail"

// newSendmailListener binds [sendmail] socket: the submission policy in
// local mode (no AUTH, the peer named by its uid) on a Unix socket, for
// `posthorn sendmail`. Nil when the socket is off.
func (d *Daemon) newSendmailListener() (*listener, error) {
	sc := d.cfg.Sendmail
	if sc.Socket == "" {
		return nil, nil
	}
	ln, err := peercred.Listen(sc.Socket, peercred.Options{Group: sc.Group})
	if err != nil {
		return nil, fmt.Errorf("sendmail socket: %w", err)
	}
	backend := submission.New(submission.Options{
		Store:               d.store,
		Hostname:            d.cfg.Hostname,
		SubaddressSeparator: d.cfg.SubaddressSeparator,
		Signer:              d.dkim,
		Queued:              d.wakeDelivery,
		Logger:              d.log,
		Local:               true,
		LocalAnySender:      sc.AllowAnySender,
	})
	opts := d.smtpOptions(roleSendmail, nil)
	// Every local client has the same (no) IP address: only the total
	// connection limit means something here (-1: no limit; 0 would be
	// the default of 100 per IP).
	opts.MaxConnectionsPerIP, opts.MaxConnectionsPerNet = -1, -1
	opts.ConnectionRatePerIP, opts.ConnectionRatePerNet = 0, 0
	return &listener{role: roleSendmail, ln: ln, srv: smtpserver.New(opts, backend)}, nil
}

// SendmailSocket is the path of the local submission socket, "" when off.
func (d *Daemon) SendmailSocket() string {
	for _, l := range d.listeners {
		if l.role == roleSendmail {
			return d.cfg.Sendmail.Socket
		}
	}
	return ""
}
