// Package config defines posthorn's configuration: one TOML file, decoded
// strictly (unknown keys are errors) onto Default, then checked by Validate.
// Every error names the file, the line and the key, and gives a hint.
//
// The doc comments on the fields below are the user documentation:
// Reference and Sample read them from this file's source, embedded in the
// binary, and docs/config.md is generated from them (go generate
// ./internal/config). Write them for operators, not for Go programmers.
//
// Struct tags: toml is the key name; docdefault replaces the default shown
// in the reference when the real one depends on the machine or the field is
// required; sample gives the TOML value used in the sample file instead of
// the default.
package config

import (
	"os"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	// The fully qualified domain name of this server, used in the SMTP
	// greeting, in EHLO when sending, and in Received headers. It should
	// resolve to this server and match the reverse DNS of its IP addresses.
	Hostname string `toml:"hostname" docdefault:"this machine's host name (os.Hostname)" sample:"\"mail.example.com\""`

	// Domains this server receives mail for. They are added to the store at
	// start if missing; `posthorn domain add` can add more at run time.
	// Removing a domain here does not remove it from the store.
	Domains []string `toml:"domains" sample:"[\"example.com\"]"`

	// Directory for the database, queue and other state. A relative path is
	// relative to the working directory of the daemon.
	DataDir string `toml:"data_dir"`

	// The name of this node among several on one database: the queue
	// records it with every lease it takes, so `posthorn queue list` and
	// `queue show` tell which node is delivering a message (or held it
	// when it died). Give each node its own; printable ASCII, at most 64
	// characters.
	Node string `toml:"node" docdefault:"this machine's host name (os.Hostname)" sample:"\"node-1\""`

	// Where mail, accounts, the queue and events are kept: the embedded
	// store in data_dir (one node), or a PostgreSQL database that several
	// nodes share.
	Store Store `toml:"store"`

	// Separator between the user and a tag in a local part: with "+", mail
	// to user+news@example.com goes to user@example.com. One character; ""
	// turns subaddressing off.
	SubaddressSeparator string `toml:"subaddress_separator"`

	// Network listeners, one [[listeners]] table each. Writing any
	// [[listeners]] table replaces the default list.
	Listeners []Listener `toml:"listeners"`

	// Certificate for STARTTLS and the implicit-TLS roles.
	TLS TLS `toml:"tls"`

	// Resource limits per protocol.
	Limits Limits `toml:"limits"`

	// Logins of users (SMTP submission, IMAP, POP3): throttling of
	// password guessing. Failures are counted in memory, or with the
	// PostgreSQL store in the database, so the limits hold across all
	// nodes.
	Auth Auth `toml:"auth"`

	// Message submission from users' mail programs (roles submission and
	// submissions).
	Submission Submission `toml:"submission"`

	// The local submission socket that `posthorn sendmail` (and a
	// /usr/sbin/sendmail symlink to posthorn) hands messages to, for
	// PHP mail(), cron and scripts on this machine.
	Sendmail Sendmail `toml:"sendmail"`

	// The operations endpoints on the http listeners: Prometheus metrics
	// at /metrics for allowed_networks only; /healthz (200 while the
	// process serves) and /readyz (200 when the store answers and every
	// listener is up, 503 with the reason while starting or shutting
	// down) for everyone: load balancers need them, they reveal nothing.
	Metrics Metrics `toml:"metrics"`

	// Checks on mail received from other servers (role smtp): SPF, DKIM,
	// DMARC and ARC, recorded in an Authentication-Results header, and
	// DNS blocklists.
	Checks Checks `toml:"checks"`

	// The DNS resolvers every lookup goes through (receiving checks,
	// outbound delivery), with a cache.
	DNS DNS `toml:"dns"`

	// Outbound delivery: how mail for other domains leaves the queue.
	Delivery Delivery `toml:"delivery"`

	// The HTTP API (listeners with role "http"): sending from
	// applications, message status, events, webhooks.
	HTTP HTTP `toml:"http"`

	// Webhooks: the signed POSTs of events (delivered, bounced, inbound,
	// ...) to the URLs applications register, and how long events are
	// kept.
	Webhooks Webhooks `toml:"webhooks"`

	// Load balancers in front of the listeners that set proxy_protocol.
	Proxy Proxy `toml:"proxy"`

	// Logging.
	Log Log `toml:"log"`
}

// Listener is one address to accept connections on.
type Listener struct {
	// The protocol spoken on this address: "smtp" (inbound MX, port 25),
	// "submission" (587), "submissions" (465, implicit TLS), "imap" (143),
	// "imaps" (993), "pop3" (110), "pop3s" (995) or "http" (send API).
	// The implicit-TLS roles need [tls]. All names are accepted here; the
	// daemon refuses to start a role this build does not implement yet.
	Role string `toml:"role" docdefault:"required"`

	// Where to listen, as "host:port". The host may be an IP address, a
	// name, or empty for all addresses (":25"). Port 0 picks a free port
	// (for tests).
	Address string `toml:"address" docdefault:"required"`

	// Expect a PROXY protocol header (v1 or v2, as HAProxy's send-proxy
	// and send-proxy-v2 write) from a load balancer before the protocol
	// starts, and take the client's address from it. Only connections
	// from proxy.trusted_networks are accepted on this address,
	// and each must send the header; all others are closed. On the
	// implicit-TLS roles the header comes before the TLS handshake.
	ProxyProtocol bool `toml:"proxy_protocol"`
}

// TLS is the server certificate.
type TLS struct {
	// PEM file with the certificate chain, leaf first. Set both cert_file and
	// key_file, or neither (no STARTTLS then).
	CertFile string `toml:"cert_file"`

	// PEM file with the private key of cert_file.
	KeyFile string `toml:"key_file"`

	// Oldest TLS version accepted from clients: "1.2" or "1.3". Older
	// versions are insecure and refused (RFC 8996).
	MinVersion string `toml:"min_version"`

	// More certificates, one [[tls.certificates]] table each, for other
	// host names: a client that names a host (SNI) gets the certificate
	// listing that name; one that names none gets cert_file. All files are
	// reloaded when they change and on SIGHUP.
	Certificates []CertificateFiles `toml:"certificates"`

	// Automatic certificates from an ACME certificate authority such as
	// Let's Encrypt, obtained at start and renewed before they expire.
	ACME ACME `toml:"acme"`
}

// CertificateFiles is one more certificate.
type CertificateFiles struct {
	// PEM file with the certificate chain, leaf first.
	CertFile string `toml:"cert_file" docdefault:"required"`

	// PEM file with its private key.
	KeyFile string `toml:"key_file" docdefault:"required"`
}

// ACME configures automatic certificates (RFC 8555). The authority checks
// that this server answers for each host name, on port 443 (TLS-ALPN-01)
// or port 80 (HTTP-01): at least one of tls_address and http_address must
// be reachable from the internet under those names.
type ACME struct {
	// Host names to obtain certificates for, usually the hostname above
	// and the names clients use ("smtp.example.com", "imap.example.com").
	// Empty: no ACME. The first one also serves clients that name no host,
	// when cert_file is not set.
	Hostnames []string `toml:"hostnames"`

	// Contact address the authority may write to about the certificates.
	Email string `toml:"email"`

	// The authority's ACME directory.
	DirectoryURL string `toml:"directory_url"`

	// PEM file of extra root certificates to trust for directory_url, for
	// a private or test authority. Empty: the system's roots.
	CAFile string `toml:"ca_file"`

	// Where to answer TLS-ALPN-01 challenges (port 443); "" turns them off.
	TLSAddress string `toml:"tls_address"`

	// Where to answer HTTP-01 challenges (port 80); "" turns them off.
	HTTPAddress string `toml:"http_address"`
}

// Limits groups limits per protocol.
type Limits struct {
	// Limits for SMTP listeners (roles smtp, submission, submissions).
	SMTP SMTPLimits `toml:"smtp"`

	// Limits for POP3 listeners (roles pop3, pop3s).
	POP3 POP3Limits `toml:"pop3"`

	// Limits for IMAP listeners (roles imap, imaps). The largest message
	// APPEND takes (advertised as APPENDLIMIT, RFC 7889) is
	// limits.smtp.max_message_size.
	IMAP IMAPLimits `toml:"imap"`
}

// IMAPLimits bounds what one IMAP client may use.
type IMAPLimits struct {
	// Most simultaneous connections per IMAP listener; more are answered
	// with "* BYE" and closed.
	MaxConnections int `toml:"max_connections"`

	// Most simultaneous connections from one client IP address. Clients
	// behind one NAT share an address: 200 lets about 40 desktop clients
	// through (Thunderbird keeps up to 5 connections), while one address
	// holds at most a fifth of max_connections. (Dovecot has no limit per
	// address before login, and 10 per user and address after it.)
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`

	// Most simultaneous logged-in sessions of one account (a desktop
	// client may keep one per folder); more logins get NO [LIMIT].
	MaxConnectionsPerAccount int `toml:"max_connections_per_account"`

	// Autologout: how long to wait for the next command, IDLE included.
	// RFC 9051 §5.4 asks for at least 30 minutes.
	IdleTimeout Duration `toml:"idle_timeout"`

	// Longest command line, in bytes, not counting literals. RFC 7162 §4
	// asks servers to take at least 8192.
	MaxLineLength int `toml:"max_line_length"`

	// Invalid commands (answered BAD) allowed on one connection before it
	// is closed with BYE.
	MaxErrors int `toml:"max_errors"`
}

// POP3Limits bounds what one POP3 client may use.
type POP3Limits struct {
	// Most simultaneous connections per POP3 listener; more are answered
	// with -ERR [SYS/TEMP] and closed.
	MaxConnections int `toml:"max_connections"`

	// Most simultaneous connections from one client IP address.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`

	// Most simultaneous connections that named or logged in to one
	// account. Only one of them holds the maildrop at a time (RFC 1939 §8).
	MaxConnectionsPerAccount int `toml:"max_connections_per_account"`

	// Autologout: how long to wait for the next command. RFC 1939 §3 asks
	// for at least 10 minutes.
	IdleTimeout Duration `toml:"idle_timeout"`

	// How long the maildrop lock of a session outlives its node if the
	// node dies (the lock is in the store, shared by every node; a live
	// session renews it every third of this). After a crash, logins to
	// the account on other nodes are refused with [IN-USE] for at most
	// this long. At least 1s.
	MaildropLease Duration `toml:"maildrop_lease"`
}

// SMTPLimits bounds what one SMTP client may use.
type SMTPLimits struct {
	// Longest line accepted, in bytes including CRLF, for commands and for
	// message text. RFC 5321 §4.5.3.1 requires at least 512 for commands
	// and 1000 for text lines; the minimum here is 1000.
	MaxLineLength int `toml:"max_line_length"`

	// Largest message accepted, advertised with the SIZE extension (RFC
	// 1870). An integer number of bytes or a string such as "50MiB" or
	// "10MB". RFC 5321 §4.5.3.1.7 requires at least 64KiB.
	MaxMessageSize ByteSize `toml:"max_message_size"`

	// Most recipients accepted for one message; more get a temporary
	// error. RFC 5321 §4.5.3.1.8 asks for at least 100.
	MaxRecipients int `toml:"max_recipients"`

	// Most simultaneous connections over all SMTP listeners; more are
	// answered with 421 and closed.
	MaxConnections int `toml:"max_connections"`

	// Most simultaneous connections from one client IP address; at most
	// max_connections. 50 is Postfix's smtpd_client_connection_count_limit.
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`

	// How long to wait for the next command (RFC 5321 §4.5.3.2 suggests
	// at least 5 minutes).
	CommandTimeout Duration `toml:"command_timeout"`

	// How long to wait for each block of message data after DATA or BDAT
	// (RFC 5321 §4.5.3.2.5: 3 minutes).
	DataBlockTimeout Duration `toml:"data_block_timeout"`

	// Longest time the whole data of one message may take to arrive (after
	// DATA, or over all BDAT chunks), however steadily it trickles in; each
	// read also has data_block_timeout. Past it the client gets 421 and the
	// connection is closed. 10 minutes is the longest a client waits for
	// the reply to the end of data (RFC 5321 §4.5.3.2.6).
	DataTotalTimeout Duration `toml:"data_total_timeout"`

	// Most simultaneous connections from one network: a /24 for IPv4,
	// a /64 for IPv6. More are answered with 421 4.7.0 and closed.
	MaxConnectionsPerNet int `toml:"max_connections_per_net"`

	// Most new connections one client IP address may open per minute;
	// more are answered with 421 4.7.0 and closed. 0 means no limit (as
	// Postfix's smtpd_client_connection_rate_limit).
	ConnectionRatePerIP int `toml:"connection_rate_per_ip"`

	// Most new connections per minute from one /24 (IPv4) or /64 (IPv6)
	// network. 0 means no limit.
	ConnectionRatePerNet int `toml:"connection_rate_per_net"`

	// Failed commands allowed on one connection before it is closed.
	MaxErrors int `toml:"max_errors"`

	// On shutdown, how long connections in progress may take to finish
	// before they are closed.
	ShutdownGrace Duration `toml:"shutdown_grace"`
}

// Auth throttles failed logins, per client IP address (IPv6 per /64) and
// per login name, over all protocols.
type Auth struct {
	// Wait before answering the first failed login; each further failure
	// of the same IP address or name within lockout_window doubles it, up
	// to max_failure_delay.
	FailureDelay Duration `toml:"failure_delay"`

	// Longest wait before answering a failed login.
	MaxFailureDelay Duration `toml:"max_failure_delay"`

	// Failed logins from one IP address within lockout_window after which
	// every login from it is refused, the right password included, for
	// lockout_window.
	MaxFailuresPerIP int `toml:"max_failures_per_ip"`

	// Failed logins for one name within lockout_window after which every
	// login to it is refused, from any address, for lockout_window.
	MaxFailuresPerAccount int `toml:"max_failures_per_account"`

	// How long failures are remembered, and how long a lockout lasts.
	LockoutWindow Duration `toml:"lockout_window"`

	// How long a successful password check is remembered in memory, so
	// that a client logging in again (IMAP clients open several
	// connections, POP3 clients poll) skips the argon2id run. A password
	// change or a revoked app password ends it at once; failures are never
	// remembered. "0s" turns the cache off.
	LoginCache Duration `toml:"login_cache"`

	// Take IMAP and POP3 logins without TLS from loopback clients
	// (127.0.0.0/8, ::1): for local tools, benchmarks and a TLS proxy on
	// the same host. Other clients must still use STARTTLS or implicit TLS
	// first, and are shown LOGINDISABLED (IMAP) as before.
	PlaintextOnLoopback bool `toml:"plaintext_on_loopback"`
}

// Submission is the policy of the submission roles.
type Submission struct {
	// Leave the client's IP address and EHLO name out of the Received
	// header of submitted mail, so recipients do not learn where the
	// sender was. The header still records the authenticated submission.
	HideClientIP bool `toml:"hide_client_ip"`
}

// Webhooks is the webhook worker (package webhook) and event retention.
type Webhooks struct {
	// How long one POST may take, connecting included; only a 2xx answer
	// within it counts as delivered.
	Timeout Duration `toml:"timeout"`

	// How long after an event its delivery is retried before it is
	// given up.
	GiveUp Duration `toml:"give_up"`

	// The wait after the first failed POST of an event; it doubles after
	// each further failure.
	RetryMin Duration `toml:"retry_min"`

	// The longest wait between two POSTs of an event.
	RetryMax Duration `toml:"retry_max"`

	// How many POSTs run at once.
	Concurrency int `toml:"concurrency"`

	// How long events (GET /api/v1/events, message status) and finished
	// webhook deliveries are kept; older ones are deleted hourly.
	EventRetention Duration `toml:"event_retention"`
}

// Sendmail is the local submission socket.
type Sendmail struct {
	// Path of the Unix domain socket; "" turns local submission off. Local
	// users are identified by the kernel (their uid, recorded in the
	// Received header), not by a password; the message is signed and
	// queued like submitted mail. The directory is created (mode 0755)
	// when missing. posthorn quickstart sets "/run/posthorn/sendmail.sock",
	// the path the sendmail command tries when it cannot read this file.
	Socket string `toml:"socket"`

	// Group allowed to use the socket (mode 0660); "" lets every local
	// user submit (mode 0666).
	Group string `toml:"group"`

	// Let local users send as any address. By default the envelope
	// sender and the From: and Sender: addresses must be in one of our
	// domains or at our hostname (550 5.7.1 otherwise), so a compromised
	// web application cannot send mail as somebody else's domain.
	AllowAnySender bool `toml:"allow_any_sender"`
}

// Metrics is who may read /metrics.
type Metrics struct {
	// Client networks (or single addresses) allowed to read /metrics;
	// others get 403, since the counters reveal mail volumes. Behind a
	// reverse proxy every request comes from the proxy's address: allow
	// it only if the proxy keeps /metrics private. On a listener with
	// proxy_protocol the client address from the PROXY header is checked,
	// not the balancer's. [] lets nobody read it.
	AllowedNetworks []string `toml:"allowed_networks"`
}

// Proxy is who may send PROXY protocol headers.
type Proxy struct {
	// The load balancers' networks (or single addresses): a listener with
	// proxy_protocol = true accepts connections only from these, and
	// believes the client address their header names. Required when a
	// listener sets proxy_protocol; keep it to the balancers alone, as
	// anyone in these networks can claim any client address.
	TrustedNetworks []string `toml:"trusted_networks"`

	// How long a connection may take to send its PROXY header before it
	// is closed.
	HeaderTimeout Duration `toml:"header_timeout"`
}

// Checks are the verifications of mail received on role smtp.
type Checks struct {
	// Run SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) and ARC (RFC
	// 8617) on every received message and prepend an
	// Authentication-Results header (RFC 8601) naming this server's
	// hostname; one claiming that name already is removed first.
	Enabled bool `toml:"enabled"`

	// Apply the sender domain's DMARC policy: "reject" refuses the message
	// with 550 5.7.1 at the end of DATA, "quarantine" files it in the
	// recipient's Junk folder. false only records the verdict.
	EnforceDMARC bool `toml:"enforce_dmarc"`

	// Client networks whose mail is not checked (no SPF, DKIM, DMARC or
	// blocklist lookups; the Authentication-Results header says "none"):
	// a relay or filter of your own in front of this server.
	TrustedNetworks []string `toml:"trusted_networks"`

	// Client networks (mailing lists, forwarders you trust) whose mail is
	// never rejected or quarantined by DMARC; the verdict is still
	// recorded.
	TrustedForwarders []string `toml:"trusted_forwarders"`

	// ARC sealing domains (RFC 8617; mailing lists, forwarding services)
	// whose valid chain exempts a message from DMARC rejection and
	// quarantine, as trusted_forwarders does by address.
	TrustedARCSealers []string `toml:"trusted_arc_sealers"`

	// Sender domains (the From: header's domain, or its organizational
	// domain) whose DMARC reject policy is applied as quarantine: their
	// failing mail goes to Junk instead of being refused.
	QuarantineInsteadOfReject []string `toml:"quarantine_instead_of_reject"`

	// DNS blocklist zones the client's IP address is looked up in, such as
	// "zen.spamhaus.org" (RFC 5782). Empty: none.
	DNSBL []string `toml:"dnsbl"`

	// What a blocklist listing does: "reject" refuses the client's MAIL
	// command with 554 5.7.1; "header" only records the zones that list
	// it in an X-Posthorn-DNSBL header.
	DNSBLAction string `toml:"dnsbl_action"`

	// Greylisting (RFC 6647): the first attempt of an unknown (client
	// network, sender, recipient) is refused with 451 4.7.1 and accepted
	// when retried after greylist_delay; a client network that passed is
	// let in without delay for 35 days. State is kept in data_dir, or
	// with the PostgreSQL store in the database every node shares.
	Greylisting bool `toml:"greylisting"`

	// How long a greylisted sender must wait before its retry is accepted.
	GreylistDelay Duration `toml:"greylist_delay"`

	// Client networks never greylisted (e.g. big providers that retry
	// from changing addresses).
	GreylistAllow []string `toml:"greylist_allow"`

	// Sender domains (of MAIL FROM) never greylisted.
	GreylistAllowDomains []string `toml:"greylist_allow_domains"`

	// Longest a message's checks may wait for DNS in total; what is not
	// answered by then counts as a temporary error (temperror).
	Timeout Duration `toml:"timeout"`
}

// DNS configures the resolvers.
type DNS struct {
	// Recursive resolvers to ask, as "host:port" or "host" (port 53),
	// tried in order. Empty: the nameservers of /etc/resolv.conf.
	Servers []string `toml:"servers"`

	// The servers validate DNSSEC (a local unbound, say), so their AD bit
	// is believed (needed for DANE). Enable only for a resolver on
	// loopback or a trusted network path.
	TrustAD bool `toml:"trust_ad"`

	// How long to wait for one server's answer.
	Timeout Duration `toml:"timeout"`

	// Answers kept in the cache; 0 turns the cache off.
	CacheSize int `toml:"cache_size"`
}

// Delivery is the outbound queue and its SMTP client. The EHLO name is
// hostname.
type Delivery struct {
	// Deliver queued mail. false keeps it in the queue, where "posthorn
	// queue" shows it (dev mode: nothing leaves the machine).
	Enabled bool `toml:"enabled"`

	// IP address outbound connections come from; "" lets the system
	// choose. It should have a reverse DNS name matching hostname.
	SourceAddress string `toml:"source_address"`

	// Port dialled at MX hosts. Mail goes to 25; change it only for tests.
	Port int `toml:"port"`

	// First wait after a failed attempt; each further failure doubles it,
	// up to retry_max.
	RetryMin Duration `toml:"retry_min"`

	// Longest wait between two attempts.
	RetryMax Duration `toml:"retry_max"`

	// How long a message may stay undelivered before it is returned to
	// the sender as failed.
	GiveUp Duration `toml:"give_up"`

	// Tell the sender once that a message is still undelivered after this
	// long; "0s" never does.
	DelayWarning Duration `toml:"delay_warning"`

	// Most simultaneous deliveries to one destination (a domain, or the
	// host of a route).
	MaxPerDestination int `toml:"max_per_destination"`

	// Most messages in delivery at once.
	MaxInFlight int `toml:"max_in_flight"`

	// How long a connection waits for the next message to the same
	// destination before it is closed.
	IdleTimeout Duration `toml:"idle_timeout"`

	// Longest time one delivery attempt may take.
	AttemptTimeout Duration `toml:"attempt_timeout"`

	// How long a message being delivered belongs to this node. The node
	// renews the lease every third of it while the attempt runs, so an
	// attempt may take longer (up to attempt_timeout); a node that dies
	// or loses the database stops renewing, and another node (or this
	// one, restarted) tries the message again when the lease ends, at
	// most this long after the crash. At-least-once: a message in
	// delivery at the crash may arrive twice. An attempt whose lease ran
	// out unrenewed is stopped.
	Lease Duration `toml:"lease"`

	// Fixed next hops instead of MX lookups, one [[delivery.routes]]
	// table each: a smarthost for every domain ("*") or a host for one
	// domain.
	Routes []DeliveryRoute `toml:"routes"`
}

// DeliveryRoute sends one destination's mail to a fixed host.
type DeliveryRoute struct {
	// Destination domain, or "*" for every domain without its own route.
	Domain string `toml:"domain" docdefault:"required"`

	// Next hop as "host:port" (or "host" for port 25).
	Host string `toml:"host" docdefault:"required"`

	// Log in with AUTH PLAIN (only over TLS with a verified certificate).
	Username string `toml:"username"`

	// Password for username.
	Password string `toml:"password"`

	// Refuse to send in plaintext; always on with username.
	RequireTLS bool `toml:"require_tls"`

	// PEM file of root certificates for the host's certificate; "": the
	// system's roots.
	CAFile string `toml:"ca_file"`
}

// HTTP is the HTTP API of the "http" listeners. With [tls] configured
// they speak HTTPS with the same certificates; without it, or with
// plaintext, plain HTTP, which is allowed only on a loopback address
// unless plaintext is set (behind a TLS-terminating proxy).
type HTTP struct {
	// Serve plain HTTP even where a certificate is configured or the
	// address is not loopback: for a reverse proxy in front that does TLS.
	// API keys travel in every request, so never expose plain HTTP to a
	// network you do not control.
	Plaintext bool `toml:"plaintext"`

	// Largest request body accepted, JSON or raw message; larger ones get
	// 413 before the body is read. Attachments in JSON are base64 (4/3 of
	// their size), so keep this above limits.smtp.max_message_size * 1.4.
	MaxRequestSize ByteSize `toml:"max_request_size"`

	// Requests per second each API key may make on average; more get 429
	// with Retry-After. 0 turns the limit off.
	RateLimit float64 `toml:"rate_limit"`

	// Requests an API key may make at once above rate_limit (the size of
	// its token bucket).
	RateBurst int `toml:"rate_burst"`

	// Most simultaneous connections per http listener; further clients
	// wait to be accepted until one closes.
	MaxConnections int `toml:"max_connections"`

	// Longest time to read one request, headers and body.
	ReadTimeout Duration `toml:"read_timeout"`

	// How long a keep-alive connection may wait for its next request.
	IdleTimeout Duration `toml:"idle_timeout"`
}

// Store selects the storage backend. Everything the store holds is
// shared by every node on one PostgreSQL database; what stays in each
// node's data_dir is listed in docs/scaling.md.
type Store struct {
	// "sqlite": the embedded store, data_dir/mail.db, for one node.
	// "postgres": a PostgreSQL database (14 or newer, built with lz4) that
	// one or several posthorn nodes share; its tables are created or
	// upgraded at start.
	Backend string `toml:"backend"`

	// PostgreSQL connection string, as a URL
	// ("postgres://posthorn@db.example.com/posthorn?sslmode=verify-full")
	// or key=value pairs. Keep the password out of this file: use
	// dsn_file, the environment variable POSTHORN_STORE_DSN, or libpq's
	// PGPASSWORD/PGPASSFILE. Only for backend "postgres".
	DSN string `toml:"dsn"`

	// File holding the connection string (surrounding white space is
	// ignored), readable by posthorn only: a secret mounted by the
	// orchestrator. Set dsn or dsn_file, not both; with neither, the
	// environment variable POSTHORN_STORE_DSN is used.
	DSNFile string `toml:"dsn_file"`
}

// Log is where and how the daemon logs.
type Log struct {
	// Least severe level logged: "debug", "info", "warn" or "error".
	Level string `toml:"level"`

	// Output format on standard error: "text" (key=value) or "json".
	Format string `toml:"format"`
}

// Default returns the configuration used for every key the file leaves out:
// safe production values, one smtp listener on ":25" and no TLS.
func Default() *Config {
	host, _ := os.Hostname()
	return &Config{
		Hostname:            host,
		Node:                host,
		DataDir:             "/var/lib/posthorn",
		SubaddressSeparator: "+",
		Listeners:           []Listener{{Role: RoleSMTP, Address: ":25"}},
		TLS: TLS{MinVersion: "1.2", Certificates: []CertificateFiles{}, ACME: ACME{
			Hostnames:    []string{},
			DirectoryURL: "https://acme-v02.api.letsencrypt.org/directory",
			TLSAddress:   ":443",
			HTTPAddress:  ":80",
		}},
		Limits: Limits{SMTP: SMTPLimits{
			MaxLineLength:        4096,
			MaxMessageSize:       50 << 20,
			MaxRecipients:        100,
			MaxConnections:       500,
			MaxConnectionsPerIP:  50,
			MaxConnectionsPerNet: 100,
			CommandTimeout:       NewDuration(5 * time.Minute),
			DataBlockTimeout:     NewDuration(3 * time.Minute),
			DataTotalTimeout:     NewDuration(10 * time.Minute),
			MaxErrors:            10,
			ShutdownGrace:        NewDuration(30 * time.Second),
		}, IMAP: IMAPLimits{
			MaxConnections:           1000,
			MaxConnectionsPerIP:      200,
			MaxConnectionsPerAccount: 50,
			IdleTimeout:              NewDuration(30 * time.Minute),
			MaxLineLength:            64 << 10,
			MaxErrors:                20,
		}, POP3: POP3Limits{
			MaxConnections:           1000,
			MaxConnectionsPerIP:      50,
			MaxConnectionsPerAccount: 10,
			IdleTimeout:              NewDuration(10 * time.Minute),
			MaildropLease:            NewDuration(time.Minute),
		}},
		Auth: Auth{
			FailureDelay:          NewDuration(time.Second),
			MaxFailureDelay:       NewDuration(8 * time.Second),
			MaxFailuresPerIP:      20,
			MaxFailuresPerAccount: 10,
			LockoutWindow:         NewDuration(15 * time.Minute),
			LoginCache:            NewDuration(15 * time.Minute),
		},
		Metrics: Metrics{AllowedNetworks: []string{"127.0.0.0/8", "::1/128"}},
		Checks: Checks{
			Enabled:                   true,
			EnforceDMARC:              true,
			TrustedNetworks:           []string{"127.0.0.0/8", "::1/128"},
			TrustedForwarders:         []string{},
			TrustedARCSealers:         []string{},
			QuarantineInsteadOfReject: []string{},
			DNSBL:                     []string{},
			DNSBLAction:               "reject",
			GreylistDelay:             NewDuration(5 * time.Minute),
			GreylistAllow:             []string{},
			GreylistAllowDomains:      []string{},
			Timeout:                   NewDuration(20 * time.Second),
		},
		DNS: DNS{Servers: []string{}, Timeout: NewDuration(5 * time.Second), CacheSize: 4096},
		Delivery: Delivery{
			Enabled:           true,
			Port:              25,
			RetryMin:          NewDuration(5 * time.Minute),
			RetryMax:          NewDuration(4 * time.Hour),
			GiveUp:            NewDuration(5 * 24 * time.Hour),
			MaxPerDestination: 20,
			MaxInFlight:       200,
			IdleTimeout:       NewDuration(5 * time.Second),
			AttemptTimeout:    NewDuration(10 * time.Minute),
			Lease:             NewDuration(time.Minute),
			Routes:            []DeliveryRoute{},
		},
		HTTP: HTTP{
			MaxRequestSize: 72 << 20,
			MaxConnections: 1000,
			RateLimit:      100,
			RateBurst:      200,
			ReadTimeout:    NewDuration(2 * time.Minute),
			IdleTimeout:    NewDuration(2 * time.Minute),
		},
		Webhooks: Webhooks{
			Timeout:        NewDuration(10 * time.Second),
			GiveUp:         NewDuration(24 * time.Hour),
			RetryMin:       NewDuration(30 * time.Second),
			RetryMax:       NewDuration(time.Hour),
			Concurrency:    16,
			EventRetention: NewDuration(30 * 24 * time.Hour),
		},
		Store: Store{Backend: StoreSQLite},
		Proxy: Proxy{TrustedNetworks: []string{}, HeaderTimeout: NewDuration(5 * time.Second)},
		Log:   Log{Level: "info", Format: "text"},
	}
}
