package sendmail

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want Options
	}{
		{nil, Options{Mode: ModeDeliver}},
		// PHP's mail() default, with additional_params -f.
		{[]string{"-t", "-i", "-fnoreply@a.test"}, Options{Mode: ModeDeliver, ExtractRecipients: true, IgnoreDots: true, Sender: "noreply@a.test", SenderSet: true}},
		// cron (Debian's default MAILCMD arguments).
		{[]string{"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"}, Options{Mode: ModeDeliver, IgnoreDots: true, FullName: "CronDaemon", Recipients: []string{"root"}}},
		// Bundled flags, a separate argument, options after recipients.
		{[]string{"-tif", "a@b", "c@d", "-oi", "-F", "Full Name", "-odi", "-v"}, Options{Mode: ModeDeliver, ExtractRecipients: true, IgnoreDots: true, Sender: "a@b", SenderSet: true, FullName: "Full Name", Recipients: []string{"c@d"}}},
		{[]string{"-r", "<>", "-C", "/etc/p.toml", "--", "-odd@x"}, Options{Mode: ModeDeliver, Sender: "<>", SenderSet: true, ConfigFile: "/etc/p.toml", Recipients: []string{"-odd@x"}}},
		{[]string{"-bs"}, Options{Mode: ModeSMTP}},
		{[]string{"-bm", "-N", "never", "-R", "hdrs", "-V", "envid", "-h", "5", "-L", "x", "-O", "a=b", "-X", "/tmp/x", "-e", "m", "-p", "smtp", "-Ac", "-c", "-x", "-m", "-n", "-G", "-U", "a@b"}, Options{Mode: ModeDeliver, Recipients: []string{"a@b"}}},
		{[]string{"-I"}, Options{Mode: ModeNewAliases}},
		{[]string{"-bi"}, Options{Mode: ModeNewAliases}},
		{[]string{"-q"}, Options{Mode: ModeQueueRun}},
		{[]string{"-q30m"}, Options{Mode: ModeQueueRun}},
		{[]string{"-", "a@b"}, Options{Mode: ModeDeliver, Recipients: []string{"-", "a@b"}}},
	} {
		got, err := ParseArgs(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\ngot  %+v\nwant %+v", c.args, got, c.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-Z"}, {"-tZ"}, {"-f"}, {"-t", "-F"}, {"-bp"}, {"-bd"}, {"-bv"}, {"-b"}, {"-\xff"},
	} {
		_, err := ParseArgs(args)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a UsageError", args, err)
		}
	}
}

func FuzzParseArgs(f *testing.F) {
	f.Add("-t\x00-i\x00-fnoreply@a.test")
	f.Add("-FCronDaemon\x00-i\x00-B8BITMIME\x00-oem\x00root")
	f.Add("-tif\x00a@b\x00--\x00-x")
	f.Add("-bs\x00-q30m\x00-Z")
	f.Fuzz(func(t *testing.T, joined string) {
		args := splitNUL(joined)
		o, err := ParseArgs(args)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("%q: error %v is not a UsageError", args, err)
			}
			return
		}
		if len(o.Recipients) > len(args) {
			t.Fatalf("%q: more recipients than arguments", args)
		}
		switch o.Mode {
		case ModeDeliver, ModeSMTP, ModeNewAliases, ModeQueueRun:
		default:
			t.Fatalf("%q: mode %q", args, o.Mode)
		}
	})
}

func splitNUL(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
