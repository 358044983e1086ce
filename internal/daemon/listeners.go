package daemon

import (
	"crypto/tls"
	"fmt"

	"github.com/posthorn/posthorn/internal/compose"
	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/imapserver"
	"github.com/posthorn/posthorn/internal/mx"
	"github.com/posthorn/posthorn/internal/pop3server"
	"github.com/posthorn/posthorn/internal/smtpserver"
	"github.com/posthorn/posthorn/internal/submission"
)

// newListener binds one configured listener and builds the server of its
// role: the engine (smtpserver, pop3server) with its policy (mx,
// submission) and the shared store, authentication and certificates.
func (d *Daemon) newListener(lc config.Listener, tlsConfig *tls.Config) (*listener, error) {
	switch lc.Role {
	case "smtp":
		ln, err := d.listen(lc)
		if err != nil {
			return nil, fmt.Errorf("smtp listener: %w", err)
		}
		checks, err := d.mxChecks()
		if err != nil {
			ln.Close()
			return nil, err
		}
		backend := mx.New(mx.Options{
			Store:               d.store,
			Hostname:            d.cfg.Hostname,
			SubaddressSeparator: d.cfg.SubaddressSeparator,
			Logger:              d.log,
			Checks:              checks,
			Routes:              compose.NewRouter(d.store),
		})
		srv := smtpserver.New(d.smtpOptions(lc.Role, tlsConfig), backend)
		return &listener{role: lc.Role, ln: ln, srv: srv}, nil
	case config.RoleSubmission, config.RoleSubmissions:
		if tlsConfig == nil {
			return nil, fmt.Errorf("%s listener %s needs a certificate: set tls.cert_file and tls.key_file (logins are only taken over TLS)", lc.Role, lc.Address)
		}
		ln, err := d.listen(lc)
		if err != nil {
			return nil, fmt.Errorf("%s listener: %w", lc.Role, err)
		}
		backend := submission.New(submission.Options{
			Store:               d.store,
			Hostname:            d.cfg.Hostname,
			SubaddressSeparator: d.cfg.SubaddressSeparator,
			HideClientIP:        d.cfg.Submission.HideClientIP,
			Signer:              d.dkim,
			Queued:              d.wakeDelivery,
			Logger:              d.log,
		})
		opts := d.smtpOptions(lc.Role, tlsConfig)
		opts.ImplicitTLS = lc.Role == config.RoleSubmissions // RFC 8314
		opts.Authenticator = d.auth
		opts.RequireAuth = true // RFC 6409 §4.3
		return &listener{role: lc.Role, ln: ln, srv: smtpserver.New(opts, backend)}, nil
	case config.RolePOP3, config.RolePOP3S:
		if tlsConfig == nil {
			return nil, fmt.Errorf("%s listener %s needs a certificate: set tls.cert_file and tls.key_file (logins are only taken over TLS)", lc.Role, lc.Address)
		}
		ln, err := d.listen(lc)
		if err != nil {
			return nil, fmt.Errorf("%s listener: %w", lc.Role, err)
		}
		lim := d.cfg.Limits.POP3
		srv := pop3server.New(pop3server.Options{
			Hostname:                 d.cfg.Hostname,
			TLSConfig:                tlsConfig,
			ImplicitTLS:              lc.Role == config.RolePOP3S, // RFC 8314
			AllowPlaintextAuth:       d.cfg.Auth.PlaintextOnLoopback,
			MaxConnections:           lim.MaxConnections,
			MaxConnectionsPerIP:      lim.MaxConnectionsPerIP,
			MaxConnectionsPerAccount: lim.MaxConnectionsPerAccount,
			IdleTimeout:              lim.IdleTimeout.D(),
			MaildropLease:            lim.MaildropLease.D(),
			Maildrops:                d.maildrops, // one size cache for 110 and 995
			Logger:                   d.log.With("role", lc.Role),
			Conns:                    d.metrics.Conns(lc.Role),
		}, d.store, d.auth)
		return &listener{role: lc.Role, ln: ln, srv: srv}, nil
	case config.RoleIMAP, config.RoleIMAPS:
		if tlsConfig == nil {
			return nil, fmt.Errorf("%s listener %s needs a certificate: set tls.cert_file and tls.key_file (logins are only taken over TLS)", lc.Role, lc.Address)
		}
		ln, err := d.listen(lc)
		if err != nil {
			return nil, fmt.Errorf("%s listener: %w", lc.Role, err)
		}
		lim := d.cfg.Limits.IMAP
		srv := imapserver.New(imapserver.Options{
			Hostname:                 d.cfg.Hostname,
			TLSConfig:                tlsConfig,
			ImplicitTLS:              lc.Role == config.RoleIMAPS, // RFC 8314
			AllowPlaintextAuth:       d.cfg.Auth.PlaintextOnLoopback,
			MaxConnections:           lim.MaxConnections,
			MaxConnectionsPerIP:      lim.MaxConnectionsPerIP,
			MaxConnectionsPerAccount: lim.MaxConnectionsPerAccount,
			IdleTimeout:              lim.IdleTimeout.D(),
			MaxLineLength:            lim.MaxLineLength,
			MaxMessageSize:           d.cfg.Limits.SMTP.MaxMessageSize.Int64(),
			MaxErrors:                lim.MaxErrors,
			Logger:                   d.log.With("role", lc.Role),
			Conns:                    d.metrics.Conns(lc.Role),
		}, d.store, d.auth)
		return &listener{role: lc.Role, ln: ln, srv: srv}, nil
	case config.RoleHTTP:
		return d.newHTTPListener(lc, tlsConfig)
	}
	return nil, fmt.Errorf("listener role %q (%s) is not implemented in this version of posthorn yet; remove it from the configuration", lc.Role, lc.Address)
}

// smtpOptions are the engine options every SMTP role shares.
func (d *Daemon) smtpOptions(role string, tlsConfig *tls.Config) smtpserver.Options {
	lim := d.cfg.Limits.SMTP
	return smtpserver.Options{
		Hostname:             d.cfg.Hostname,
		TLSConfig:            tlsConfig,
		MaxLineLength:        lim.MaxLineLength,
		MaxMessageBytes:      lim.MaxMessageSize.Int64(),
		MaxRecipients:        lim.MaxRecipients,
		MaxConnections:       lim.MaxConnections,
		MaxConnectionsPerIP:  lim.MaxConnectionsPerIP,
		MaxConnectionsPerNet: lim.MaxConnectionsPerNet,
		ConnectionRatePerIP:  lim.ConnectionRatePerIP,
		ConnectionRatePerNet: lim.ConnectionRatePerNet,
		CommandTimeout:       lim.CommandTimeout.D(),
		DataBlockTimeout:     lim.DataBlockTimeout.D(),
		DataTotalTimeout:     lim.DataTotalTimeout.D(),
		MaxErrors:            lim.MaxErrors,
		Logger:               d.log.With("role", role),
		Conns:                d.metrics.Conns(role),
		Received:             d.metrics.Received(role),
	}
}
