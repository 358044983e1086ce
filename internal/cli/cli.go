// Package cli implements the posthorn command line: the server (serve, dev)
// and the administration commands (domain, account, alias, message, config).
// Every command documents itself with -h; `posthorn help` lists them all.
package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Env is what a command may touch besides its arguments, so tests can run
// commands in-process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (os.Getenv in production).
	Getenv func(string) string

	// Test hooks, nil in production: dns check fetches MTA-STS policies
	// with these root CAs and this dialer (to reach a loopback server).
	testRoots *x509.CertPool
	testDial  func(ctx context.Context, network, addr string) (net.Conn, error)
}

// command is one subcommand, or a group of subcommands.
type command struct {
	name    string
	summary string
	usage   string                 // arguments after the command name
	help    string                 // longer description
	flags   func(fs *flag.FlagSet) // defines flags; nil for none
	run     func(ctx context.Context, env *Env, fs *flag.FlagSet) error
	sub     []*command
	// raw, when set, runs instead of run with the unparsed arguments and
	// returns the exit status: for sendmail's own command line syntax.
	raw func(ctx context.Context, env *Env, args []string) int
}

// usageError makes Main print the command's usage and exit with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func commands() []*command {
	return []*command{
		serveCommand(),
		devCommand(),
		configCommand(),
		domainCommand(),
		accountCommand(),
		aliasCommand(),
		routeCommand(),
		webhookCommand(),
		suppressionCommand(),
		dkimCommand(),
		dnsCommand(),
		quickstartCommand(),
		messageCommand(),
		queueCommand(),
		apiKeyCommand(),
		migrateCommand(),
		versionCommand(),
		sendmailCommand(),
	}
}

// Args returns the command line to give Main for the process arguments
// argv: argv[1:], or "sendmail" and argv[1:] when the binary was called
// as sendmail (a symlink at /usr/sbin/sendmail).
func Args(argv []string) []string {
	if len(argv) == 0 {
		return nil
	}
	if filepath.Base(argv[0]) == "sendmail" {
		return append([]string{"sendmail"}, argv[1:]...)
	}
	return argv[1:]
}

// Main runs the command line args (without the program name) and returns
// the process exit status.
func Main(ctx context.Context, env *Env, args []string) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	cmds := commands()
	if len(args) == 0 {
		printTopHelp(env.Stderr, cmds)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		return runHelp(env, cmds, args[1:])
	}
	var path []string
	list := cmds
	for {
		c := find(list, args[0])
		if c == nil {
			if len(path) == 0 {
				fmt.Fprintf(env.Stderr, "posthorn: unknown command %q\n", args[0])
				fmt.Fprintf(env.Stderr, "Run 'posthorn help' for the list of commands.\n")
			} else {
				fmt.Fprintf(env.Stderr, "posthorn %s: unknown subcommand %q\n", strings.Join(path, " "), args[0])
				printSubcommands(env.Stderr, path, list)
			}
			return 2
		}
		path = append(path, c.name)
		args = args[1:]
		if c.raw != nil {
			if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
				printCommandHelp(env.Stderr, "posthorn "+c.name, c, flag.NewFlagSet(c.name, flag.ContinueOnError))
				return 0
			}
			return c.raw(ctx, env, args)
		}
		if c.sub == nil {
			return runCommand(ctx, env, path, c, args)
		}
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			fmt.Fprintf(env.Stderr, "%s\n\n", c.summary)
			printSubcommands(env.Stderr, path, c.sub)
			if len(args) == 0 {
				return 2
			}
			return 0
		}
		list = c.sub
	}
}

func runCommand(ctx context.Context, env *Env, path []string, c *command, args []string) int {
	name := "posthorn " + strings.Join(path, " ")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() { printCommandHelp(env.Stderr, name, c, fs) }
	if c.flags != nil {
		c.flags(fs)
	}
	if err := fs.Parse(interleave(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := c.run(ctx, env, fs)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "%s: %s\n", name, ue.msg)
		fmt.Fprintf(env.Stderr, "usage: %s %s\n", name, c.usage)
		return 2
	default:
		fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
		return 1
	}
}

// interleave moves flags that follow positional arguments to the front, so
// `posthorn account add alice@example.org -generate` works as users expect.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			f := fs.Lookup(name)
			if f == nil {
				continue
			}
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func find(list []*command, name string) *command {
	for _, c := range list {
		if c.name == name {
			return c
		}
	}
	return nil
}

func runHelp(env *Env, cmds []*command, args []string) int {
	if len(args) == 0 {
		printTopHelp(env.Stdout, cmds)
		return 0
	}
	var path []string
	list := cmds
	for len(args) > 0 {
		c := find(list, args[0])
		if c == nil {
			fmt.Fprintf(env.Stderr, "posthorn help: unknown command %q\n", strings.Join(append(path, args[0]), " "))
			return 2
		}
		path = append(path, c.name)
		args = args[1:]
		if c.sub == nil {
			name := "posthorn " + strings.Join(path, " ")
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			if c.flags != nil {
				c.flags(fs)
			}
			printCommandHelp(env.Stdout, name, c, fs)
			return 0
		}
		if len(args) == 0 {
			fmt.Fprintf(env.Stdout, "%s\n\n", c.summary)
			printSubcommands(env.Stdout, path, c.sub)
			return 0
		}
		list = c.sub
	}
	return 0
}

func printTopHelp(w io.Writer, cmds []*command) {
	fmt.Fprint(w, "posthorn is a complete mail server: SMTP receiving and submission, IMAP, POP3 and an HTTP API.\n\n")
	fmt.Fprint(w, "Usage: posthorn <command> [arguments]\n\nCommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'posthorn help <command>' or 'posthorn <command> -h' for details.\n")
}

func printSubcommands(w io.Writer, path []string, list []*command) {
	fmt.Fprintf(w, "Usage: posthorn %s <subcommand> [arguments]\n\nSubcommands:\n", strings.Join(path, " "))
	names := make([]string, 0, len(list))
	byName := map[string]*command{}
	for _, c := range list {
		names = append(names, c.name)
		byName[c.name] = c
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, byName[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'posthorn %s <subcommand> -h' for details.\n", strings.Join(path, " "))
}

func printCommandHelp(w io.Writer, name string, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", name, c.usage, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}
