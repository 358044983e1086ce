// Package peercred serves a Unix domain socket whose connections say who
// is at the other end: the kernel's credentials of the connecting process
// (SO_PEERCRED on Linux), taken when the connection was accepted, so no
// password is needed. The local submission socket of `posthorn sendmail`
// uses it: the engine sees an *Addr as the connection's RemoteAddr.
package peercred

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// Addr is the connecting process of a Unix socket connection.
type Addr struct {
	UID, GID uint32
	PID      int32
	// User is the login name of UID, "" when the user database has none.
	User string
}

// Network implements net.Addr.
func (a *Addr) Network() string { return "unix" }

// String is "uid 33 www-data", or "uid 33" without a user name.
func (a *Addr) String() string {
	s := "uid " + strconv.FormatUint(uint64(a.UID), 10)
	if a.User != "" {
		s += " " + a.User
	}
	return s
}

// Options say how to create the socket.
type Options struct {
	// Group, when set, owns the socket (mode 0660): only its members (and
	// root) may connect. "" makes the socket mode 0666, open to every
	// local user.
	Group string
}

// Listen creates the socket at path and returns a listener whose
// connections have an *Addr as RemoteAddr. A stale socket file (nobody
// accepting on it) is replaced; a live one is an error, so a second
// daemon does not steal the first one's socket. The directory is created
// with mode 0755 when missing. Closing the listener removes the file.
func Listen(path string, opts Options) (net.Listener, error) {
	mode := os.FileMode(0o666)
	gid := -1
	if opts.Group != "" {
		g, err := user.LookupGroup(opts.Group)
		if err != nil {
			return nil, fmt.Errorf("socket group: %w", err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("socket group %s: gid %q", opts.Group, g.Gid)
		}
		mode = 0o660
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// Between bind and this chmod the file has the umask's mode: 0755 with
	// the usual 022, which lets no other user connect (that needs write
	// permission).
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, err
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("socket group %s: %w", opts.Group, err)
		}
	}
	return &listener{UnixListener: ln}, nil
}

// removeStale removes a socket file at path that nobody accepts on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s: another process is listening on it", path)
	}
	return os.Remove(path)
}

type listener struct{ *net.UnixListener }

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	a, err := peerOf(c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	return &conn{UnixConn: c, peer: a}, nil
}

// conn is an accepted connection that reports its peer as RemoteAddr.
type conn struct {
	*net.UnixConn
	peer *Addr
}

func (c *conn) RemoteAddr() net.Addr { return c.peer }

// lookupUser names uid from the user database.
func lookupUser(uid uint32) string {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return ""
	}
	return u.Username
}
