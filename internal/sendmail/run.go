// Package sendmail is the sendmail(1)-compatible command, `posthorn
// sendmail` (also run when the binary is called as "sendmail", through a
// symlink at /usr/sbin/sendmail), for PHP's mail(), cron and scripts. It
// reads a message on standard input and hands it over SMTP to the local
// submission socket of the running daemon ([sendmail] socket), which
// checks, signs and queues it like submitted mail; see internal/peercred
// and the submission package's "Local submission".
//
// Nothing is queued on this side: when the daemon is not running the
// command fails with exit status 75 (EX_TEMPFAIL) and says so, and the
// caller keeps the message. Either every recipient is accepted or nothing
// is sent, so a retry never duplicates.
package sendmail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/pelletier/go-toml/v2"
)

// DefaultSocket is where the socket is looked for when no configuration
// names it; posthorn quickstart configures this path.
const DefaultSocket = "/run/posthorn/sendmail.sock"

// DefaultConfigFile is read for [sendmail] socket when it is readable.
const DefaultConfigFile = "/etc/posthorn/posthorn.toml"

// SocketEnv overrides the socket path (for scripts and tests).
const SocketEnv = "POSTHORN_SENDMAIL_SOCKET"

// IO is what the command touches.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Run runs the command line args (without the program name) and returns
// the exit status.
func Run(ctx context.Context, sio IO, args []string) int {
	fail := func(status int, format string, a ...any) int {
		fmt.Fprintf(sio.Stderr, "posthorn sendmail: "+format+"\n", a...)
		return status
	}
	o, err := ParseArgs(args)
	if err != nil {
		return fail(ExitUsage, "%v", err)
	}
	switch o.Mode {
	case ModeNewAliases, ModeQueueRun:
		return ExitOK // aliases live in the store; the queue runs itself
	}
	path, err := socketPath(o.ConfigFile, sio.Getenv)
	if err != nil {
		return fail(ExitTempFail, "%v", err)
	}
	if o.Mode == ModeSMTP {
		return smtpOnStdio(ctx, sio, path, fail)
	}

	raw, err := ReadMessage(sio.Stdin, o.IgnoreDots)
	if errors.Is(err, ErrTooBig) {
		return fail(ExitDataErr, "%v", err)
	}
	if err != nil {
		return fail(ExitIOErr, "reading the message: %v", err)
	}
	msg := ParseMessage(raw)
	var rcpts []string
	for _, r := range o.Recipients {
		list, err := splitRecipients(r)
		if err != nil {
			return fail(ExitDataErr, "%v", err)
		}
		rcpts = appendNew(rcpts, list...)
	}
	if o.ExtractRecipients {
		list, err := msg.Recipients()
		if err != nil {
			return fail(ExitDataErr, "%v", err)
		}
		rcpts = appendNew(rcpts, list...)
	}
	if len(rcpts) == 0 {
		return fail(ExitUsage, "no recipients: name them as arguments, or use -t to take them from To:, Cc: and Bcc:")
	}
	msg.RemoveBcc()
	env := Envelope{FullName: o.FullName, Recipients: rcpts}
	if o.SenderSet {
		env.Sender = strings.TrimSuffix(strings.TrimPrefix(o.Sender, "<"), ">")
	} else {
		env.Sender = loginName(sio.Getenv)
	}
	if err := Submit(ctx, path, env, msg); err != nil {
		status := exitFor(err)
		if status == ExitTempFail && !isSMTPReply(err) {
			return fail(status, "cannot reach the posthorn server at %s (is it running?): %v; the message was not sent", path, err)
		}
		return fail(status, "%v; the message was not sent", err)
	}
	return ExitOK
}

// socketPath finds the socket: -C's configuration, the environment, the
// default configuration when readable, else DefaultSocket.
func socketPath(configFile string, getenv func(string) string) (string, error) {
	if configFile != "" {
		p, err := socketFromConfig(configFile)
		if err != nil {
			return "", err
		}
		if p == "" {
			return "", fmt.Errorf("%s: [sendmail] socket is not set: local submission is off", configFile)
		}
		return p, nil
	}
	if p := getenv(SocketEnv); p != "" {
		return p, nil
	}
	if p, err := socketFromConfig(DefaultConfigFile); err == nil && p != "" {
		return p, nil
	}
	return DefaultSocket, nil
}

// socketFromConfig reads [sendmail] socket from a configuration file,
// ignoring everything else in it (the caller may not be able to read the
// files it names).
func socketFromConfig(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var c struct {
		Sendmail struct {
			Socket string `toml:"socket"`
		} `toml:"sendmail"`
	}
	if err := toml.Unmarshal(b, &c); err != nil {
		return "", fmt.Errorf("%s: %v", file, err)
	}
	return c.Sendmail.Socket, nil
}

// splitRecipients reads one recipient argument: an address, a bare local
// part, or a comma-separated list of them ("a@x, Bob <b@y>").
func splitRecipients(arg string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(arg, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if i := strings.LastIndexByte(part, '<'); i >= 0 && strings.HasSuffix(part, ">") {
			part = part[i+1 : len(part)-1]
		}
		if part == "" || strings.ContainsAny(part, "<> \t\r\n") {
			return nil, fmt.Errorf("recipient %q is not an address", printable(arg))
		}
		out = append(out, part)
	}
	return out, nil
}

// appendNew appends the addresses not yet in list (compared without
// regard to case).
func appendNew(list []string, addrs ...string) []string {
next:
	for _, a := range addrs {
		for _, b := range list {
			if strings.EqualFold(a, b) {
				continue next
			}
		}
		list = append(list, a)
	}
	return list
}

// loginName names the user running the command: the envelope sender's
// local part when -f is not given.
func loginName(getenv func(string) string) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, v := range []string{"LOGNAME", "USER"} {
		if s := getenv(v); s != "" {
			return s
		}
	}
	return "uid" + strconv.Itoa(os.Getuid())
}

// isSMTPReply reports whether err is the server's answer, not a failure
// to talk to it.
func isSMTPReply(err error) bool {
	var se *gosmtp.SMTPError
	return errors.As(err, &se)
}

// smtpOnStdio (-bs) connects standard input and output to the socket:
// the caller speaks SMTP itself.
func smtpOnStdio(ctx context.Context, sio IO, path string, fail func(int, string, ...any) int) int {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return fail(exitFor(err), "cannot reach the posthorn server at %s (is it running?): %v", path, err)
	}
	defer nc.Close()
	go func() {
		io.Copy(nc, sio.Stdin)
		if uc, ok := nc.(*net.UnixConn); ok {
			uc.CloseWrite()
		}
	}()
	if _, err := io.Copy(sio.Stdout, nc); err != nil {
		return fail(ExitIOErr, "%v", err)
	}
	return ExitOK
}
