package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/certs"
	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/store"
)

// Dev mode's fixed facts. They are a stable interface: application CI
// pipelines depend on them (and on dev.json).
const (
	devDomain   = "example.test"
	devHostname = "mail.example.test"
)

// devPorts are the fixed, unprivileged ports of dev mode: 10000 plus the
// protocol's standard port. Listeners are added here as posthorn gains them.
var devPorts = map[string]int{
	"smtp":        10025,
	"submission":  10587,
	"submissions": 10465,
	"imap":        10143,
	"imaps":       10993,
	"pop3":        10110,
	"pop3s":       10995,
	"http":        10080,
}

// devListeners describes each dev listener, in the order the banner lists
// them.
var devListeners = []struct{ role, what string }{
	{"smtp", "SMTP receiving (MX), STARTTLS offered"},
	{"submission", "sending (RFC 6409): STARTTLS, then AUTH with an account below"},
	{"submissions", "sending over implicit TLS (RFC 8314), then AUTH"},
	{"imap", "IMAP (RFC 9051): STARTTLS, then LOGIN or AUTHENTICATE"},
	{"imaps", "IMAP over implicit TLS (RFC 8314)"},
	{"pop3", "POP3 (RFC 1939): STLS, then USER/PASS or AUTH"},
	{"pop3s", "POP3 over implicit TLS (RFC 8314)"},
	{"http", "HTTP API (plain HTTP on loopback): Authorization: Bearer KEY from 'posthorn apikey create'; /metrics, /healthz, /readyz"},
}

// devMaxSocketPath is the longest Unix socket path (see config): a dev
// directory deeper than that runs without the sendmail socket.
const devMaxSocketPath = 107

var devAccounts = []string{"alice@" + devDomain, "bob@" + devDomain}

// DevInfo is the content of DIR/dev.json, for scripts and CI pipelines.
type DevInfo struct {
	Host       string         `json:"host"`     // the IP address to connect to
	Hostname   string         `json:"hostname"` // the name the certificate is for
	Domain     string         `json:"domain"`
	Ports      map[string]int `json:"ports"` // by protocol; only listeners that run
	Accounts   []DevAccount   `json:"accounts"`
	CAFile     string         `json:"ca_file"`
	ConfigFile string         `json:"config_file"`
	DataDir    string         `json:"data_dir"`
	// Store is the backend: "sqlite" (in data_dir) or "postgres" (the
	// database of -store-dsn; its connection string stays in config_file).
	Store string `json:"store"`
	// Sendmail is the local submission socket for `posthorn sendmail`;
	// absent when DIR's path is too long for a Unix socket.
	Sendmail *DevSendmail `json:"sendmail,omitempty"`
}

// DevSendmail is the local submission socket of dev mode.
type DevSendmail struct {
	Socket string `json:"socket"`
}

// DevAccount is a demo account and its password.
type DevAccount struct {
	Address  string `json:"address"`
	Password string `json:"password"`
}

func devCommand() *command {
	var dir, addr, storeDSN string
	return &command{
		name:    "dev",
		summary: "run a complete local mail system for development",
		usage:   "[-dir DIR] [-addr IP] [-store-dsn DSN]",
		help: `Starts posthorn on loopback with a generated CA and certificate, the
domain example.test and the accounts alice@example.test and
bob@example.test, whose passwords it prints. Everything lives in DIR and
survives a restart. The same facts are written to DIR/dev.json:
  {"host", "hostname", "domain", "ports": {"smtp", ...}, "accounts":
   [{"address", "password"}], "ca_file", "config_file", "data_dir",
   "store", "sendmail": {"socket"}}
With -store-dsn the mail lives in that PostgreSQL database (created
tables on first start) instead of DIR/data; "store" says which.
Ports (only those that run appear in dev.json):
  smtp 10025 (MX, STARTTLS)
  submission 10587 (STARTTLS, then AUTH)
  submissions 10465 (implicit TLS, then AUTH)
  imap 10143 (STARTTLS, then login)
  imaps 10993 (implicit TLS)
  pop3 10110 (STLS, then login)
  pop3s 10995 (implicit TLS)
  http 10080 (the HTTP API, plain HTTP on loopback)
The local submission socket DIR/sendmail.sock takes mail from
'posthorn sendmail -C DIR/posthorn.toml' (PHP's sendmail_path, cron).
One dev server per DIR: a second one on the same DIR refuses to start
(DIR/dev.lock) and changes nothing.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&dir, "dir", "posthorn-dev", "`directory` for all data, certificates and dev.json")
			fs.StringVar(&addr, "addr", "127.0.0.1", "loopback `IP` address to listen on")
			fs.StringVar(&storeDSN, "store-dsn", "", "keep the mail in the PostgreSQL database of this connection `string` (written to DIR/posthorn.toml) instead of DIR/data")
		},
		run: func(ctx context.Context, env *Env, fs *flag.FlagSet) error {
			if fs.NArg() != 0 {
				return usagef("takes no arguments")
			}
			ip := net.ParseIP(addr)
			if ip == nil || !ip.IsLoopback() {
				return usagef("-addr %q: dev mode listens on a loopback address only (127.0.0.0/8 or ::1)", addr)
			}
			absDir, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			release, err := lockDevDir(absDir)
			if err != nil {
				return err
			}
			defer release()
			cfgFile, err := prepareDev(absDir, ip, storeDSN)
			if err != nil {
				return err
			}
			cfg, err := config.Load(cfgFile)
			if err != nil {
				return fmt.Errorf("dev configuration: %w", err)
			}
			info := DevInfo{
				Host: ip.String(), Hostname: devHostname, Domain: devDomain, Ports: map[string]int{},
				CAFile: filepath.Join(absDir, "tls", "ca.pem"), ConfigFile: cfgFile, DataDir: cfg.DataDir,
				Store: cfg.Store.Backend,
			}
			return serve(ctx, env, cfg, func(d *daemon.Daemon) error {
				accounts, err := ensureDevAccounts(ctx, d.Store(), filepath.Join(absDir, "dev.json"))
				if err != nil {
					return err
				}
				info.Accounts = accounts
				// Checking the demo passwords allocated argon2id's memory;
				// give it back now rather than carry it at idle.
				debug.FreeOSMemory()
				for role, a := range d.Addrs() {
					info.Ports[role] = a.(*net.TCPAddr).Port
				}
				if p := d.SendmailSocket(); p != "" {
					info.Sendmail = &DevSendmail{Socket: p}
				}
				if err := writeDevInfo(filepath.Join(absDir, "dev.json"), info); err != nil {
					return err
				}
				printDevBanner(env.Stdout, dir, info)
				return nil
			})
		},
	}
}

// prepareDev makes the certificates and the configuration file of a dev
// directory and returns the configuration's path. A storeDSN puts the store
// on that PostgreSQL database.
func prepareDev(dir string, ip net.IP, storeDSN string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	files, err := certs.EnsureDev(filepath.Join(dir, "tls"), []string{devHostname, "localhost"}, []net.IP{ip})
	if err != nil {
		return "", fmt.Errorf("dev certificates: %w", err)
	}
	host := ip.String()
	if ip.To4() == nil {
		host = "[" + host + "]"
	}
	roles := make([]string, 0, len(devPorts))
	for r := range devPorts {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by 'posthorn dev' at every start; edits are overwritten.\n")
	fmt.Fprintf(&b, "hostname = %q\ndomains = [%q]\ndata_dir = %q\n", devHostname, devDomain, filepath.Join(dir, "data"))
	// Dev nodes sharing a database (-store-dsn) differ by their address.
	fmt.Fprintf(&b, "node = %q\n\n", "dev-"+ip.String())
	if storeDSN != "" {
		fmt.Fprintf(&b, "[store]\nbackend = %q\ndsn = %q\n\n", config.StorePostgres, storeDSN)
	}
	for _, r := range roles {
		fmt.Fprintf(&b, "[[listeners]]\nrole = %q\naddress = \"%s:%d\"\n\n", r, host, devPorts[r])
	}
	fmt.Fprintf(&b, "[tls]\ncert_file = %q\nkey_file = %q\n\n", files.CertFile, files.KeyFile)
	fmt.Fprintf(&b, "[limits.smtp]\nshutdown_grace = \"5s\"\n\n")
	// The API on loopback: plain HTTP, so curl needs no CA.
	fmt.Fprintf(&b, "[http]\nplaintext = true\n\n")
	if sock := filepath.Join(dir, "sendmail.sock"); len(sock) <= devMaxSocketPath {
		fmt.Fprintf(&b, "[sendmail]\nsocket = %q\n\n", sock)
	}
	// Mail for other domains stays in the queue: nothing leaves the machine.
	fmt.Fprintf(&b, "[delivery]\nenabled = false\n\n[log]\nlevel = \"info\"\n")
	path := filepath.Join(dir, "posthorn.toml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// ensureDevAccounts makes sure the demo accounts exist with the passwords
// recorded in dev.json; accounts or passwords that are missing are made anew.
func ensureDevAccounts(ctx context.Context, st store.Store, infoFile string) ([]DevAccount, error) {
	known := map[string]string{}
	if b, err := os.ReadFile(infoFile); err == nil {
		var old DevInfo
		if json.Unmarshal(b, &old) == nil {
			for _, a := range old.Accounts {
				known[a.Address] = a.Password
			}
		}
	}
	var out []DevAccount
	for _, addr := range devAccounts {
		pw := known[addr]
		_, cred, err := st.Credentials(ctx, addr)
		switch {
		case err == nil && pw != "" && auth.VerifyPassword(cred.PasswordHash, pw) == nil:
			// Account and recorded password agree.
		case err == nil:
			pw = auth.GeneratePassword()
			c, err := auth.NewCredentials(pw)
			if err != nil {
				return nil, err
			}
			if err := st.SetCredentials(ctx, addr, c); err != nil {
				return nil, err
			}
		case errors.Is(err, store.ErrNotFound):
			if pw == "" {
				pw = auth.GeneratePassword()
			}
			c, err := auth.NewCredentials(pw)
			if err != nil {
				return nil, err
			}
			if _, err := st.AddAccount(ctx, addr, c); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
		out = append(out, DevAccount{Address: addr, Password: pw})
	}
	return out, nil
}

func writeDevInfo(path string, info DevInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func printDevBanner(w io.Writer, dir string, info DevInfo) {
	host := info.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	fmt.Fprintf(w, "\nposthorn dev is running. Data, certificates and dev.json are in %s\n\n", dir)
	if info.Store == config.StorePostgres {
		fmt.Fprintf(w, "Mail, accounts and the queue are in PostgreSQL (the connection string is in %s)\n\n", info.ConfigFile)
	}
	fmt.Fprintf(w, "Listeners on %s:\n", info.Host)
	for _, l := range devListeners {
		if p, ok := info.Ports[l.role]; ok {
			fmt.Fprintf(w, "  %-11s %d   %s\n", l.role, p, l.what)
		}
	}
	fmt.Fprintf(w, "\nTLS: certificate for %s, localhost and %s, signed by the CA in %s\n", info.Hostname, info.Host, info.CAFile)
	fmt.Fprintf(w, "\nAccounts:\n")
	for _, a := range info.Accounts {
		fmt.Fprintf(w, "  %-22s password: %s\n", a.Address, a.Password)
	}
	self := "posthorn"
	if strings.Contains(os.Args[0], "go-build") {
		self = "go run ./cmd/posthorn"
	}
	if p, ok := info.Ports["smtp"]; ok {
		fmt.Fprintf(w, "\nSend a test message to alice:\n")
		fmt.Fprintf(w, "  printf 'From: dev@example.org\\r\\nTo: alice@%s\\r\\nSubject: Hello from posthorn dev\\r\\n\\r\\nIt works.\\r\\n' | curl -sS smtp://%s:%d --mail-from dev@example.org --mail-rcpt alice@%s -T -\n",
			info.Domain, host, p, info.Domain)
		fmt.Fprintf(w, "\nThen list alice's INBOX:\n  %s message list -config %s alice@%s\n", self, info.ConfigFile, info.Domain)
	}
	if info.Sendmail != nil {
		fmt.Fprintf(w, "\nSend from a script, cron or PHP's mail() (sendmail-compatible):\n")
		fmt.Fprintf(w, "  printf 'To: bob@%s\\nSubject: Hi\\n\\nIt works.\\n' | %s sendmail -C %s -t\n", info.Domain, self, info.ConfigFile)
		fmt.Fprintf(w, "  php.ini: sendmail_path = \"%s sendmail -C %s -t -i\"\n", self, info.ConfigFile)
	}
	if p, ok := info.Ports["http"]; ok {
		fmt.Fprintf(w, "\nSend from an application through the HTTP API (a new key each time; keep yours):\n")
		fmt.Fprintf(w, "  KEY=$(%s apikey create -config %s app-$(date +%%s%%N) %s) && curl -sS http://%s:%d/api/v1/messages -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' -d '{\"from\": \"app@%s\", \"to\": [\"alice@%s\"], \"subject\": \"Hello from the API\", \"text\": \"It works.\"}'\n",
			self, info.ConfigFile, info.Domain, host, p, info.Domain, info.Domain)
	}
	fmt.Fprintf(w, "\nStop with Ctrl-C; start again with the same -dir to keep the mail.\n\n")
}
