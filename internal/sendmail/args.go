package sendmail

import (
	"fmt"
	"strings"
)

// Mode is what the command was asked to do (-b).
type Mode byte

const (
	ModeDeliver    Mode = 'm' // -bm, the default: read a message and submit it
	ModeSMTP       Mode = 's' // -bs: SMTP on standard input and output
	ModeNewAliases Mode = 'i' // -bi, -I: nothing to do, aliases live in the store
	ModeQueueRun   Mode = 'q' // -q: nothing to do, the queue runs by itself
)

// Options are the parsed command line.
type Options struct {
	Mode Mode
	// ExtractRecipients (-t) adds the To:, Cc: and Bcc: addresses.
	ExtractRecipients bool
	// IgnoreDots (-i, -oi): a line with a lone dot does not end the input.
	IgnoreDots bool
	// Sender (-f, -r) is the envelope sender; SenderSet tells an empty
	// (null, "<>") sender from none given.
	Sender    string
	SenderSet bool
	// FullName (-F) is the display name of the From: field added when the
	// message has none.
	FullName string
	// ConfigFile (-C) is the posthorn configuration naming the socket.
	ConfigFile string
	// Recipients are the arguments.
	Recipients []string
}

// UsageError is a command line the command does not take (EX_USAGE).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{fmt.Sprintf(format, a...)} }

// withArg are the options that take an argument, as in Postfix's
// sendmail(1) (getopt "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx");
// noArg those that take none. q is special: its argument is optional
// and must be attached (-q, -q30m).
const (
	withArg = "ABCFLNORVXbefhopr"
	noArg   = "GIUcimntvx"
)

// ParseArgs parses a sendmail command line (without the program name)
// the way getopt does, options and recipients in any order, "--" ending
// the options. Options callers pass out of habit (-oi, -odi, -oem, -v,
// -bm, -B8BITMIME, -N, -R, -V, -h, -L, -O, -X, -e, -p, -A, -c, -x, -m,
// -n, -G, -U) are accepted and, except -oi, ignored, as Postfix does.
func ParseArgs(args []string) (Options, error) {
	o := Options{Mode: ModeDeliver}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.Recipients = append(o.Recipients, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			o.Recipients = append(o.Recipients, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if c == 'q' {
				o.Mode = ModeQueueRun // -q, -q30m, -qRsite: the rest is its argument
				break
			}
			if strings.IndexByte(noArg, c) >= 0 {
				switch c {
				case 't':
					o.ExtractRecipients = true
				case 'i':
					o.IgnoreDots = true
				case 'I':
					o.Mode = ModeNewAliases
				}
				continue
			}
			if strings.IndexByte(withArg, c) < 0 {
				return o, usagef("unknown option -%s", printable(a[j:j+1]))
			}
			// The argument is the rest of this word, or the next word.
			val := a[j+1:]
			if val == "" {
				if i+1 >= len(args) {
					return o, usagef("option -%c needs an argument", c)
				}
				i++
				val = args[i]
			}
			if err := o.set(c, val); err != nil {
				return o, err
			}
			break
		}
	}
	return o, nil
}

// set applies an option with an argument.
func (o *Options) set(c byte, val string) error {
	switch c {
	case 'f', 'r':
		o.Sender, o.SenderSet = strings.TrimSpace(val), true
	case 'F':
		o.FullName = val
	case 'C':
		o.ConfigFile = val
	case 'o':
		if strings.HasPrefix(val, "i") {
			o.IgnoreDots = true
		}
	case 'b':
		switch val {
		case "m":
			o.Mode = ModeDeliver
		case "s":
			o.Mode = ModeSMTP
		case "i":
			o.Mode = ModeNewAliases
		case "p":
			return usagef("-bp: list the queue with 'posthorn queue list'")
		case "d", "D":
			return usagef("-b%s: run the server with 'posthorn serve'", val)
		default:
			return usagef("-b%s is not supported (-bm, -bs and -bi are)", printable(val))
		}
	}
	return nil
}

// printable makes user input safe to print in an error.
func printable(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
