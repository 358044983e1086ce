package config

import (
	"testing"
	"time"
)

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		str  string
		bad  bool
	}{
		{in: "1234", want: 1234, str: "1234B"},
		{in: "50MiB", want: 50 << 20, str: "50MiB"},
		{in: "10MB", want: 10_000_000, str: "10MB"},
		{in: "10 mb", want: 10_000_000, str: "10MB"},
		{in: "512KiB", want: 512 << 10, str: "512KiB"},
		{in: "1GiB", want: 1 << 30, str: "1GiB"},
		{in: "2TB", want: 2e12, str: "2TB"},
		{in: "300B", want: 300, str: "300B"},
		{in: "0", want: 0, str: "0B"},
		{in: "1.5MiB", bad: true},
		{in: "-1", bad: true},
		{in: "50M", bad: true},
		{in: "MiB", bad: true},
		{in: "", bad: true},
		{in: "9999999TiB", bad: true},
	}
	for _, tt := range tests {
		var s ByteSize
		err := s.UnmarshalText([]byte(tt.in))
		if tt.bad {
			if err == nil {
				t.Errorf("%q: got %d, want error", tt.in, s)
			}
			continue
		}
		if err != nil || s.Int64() != tt.want || s.String() != tt.str {
			t.Errorf("%q: got %d %q %v, want %d %q", tt.in, s, s, err, tt.want, tt.str)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"5m", 5 * time.Minute, "5m"},
		{"1h", time.Hour, "1h"},
		{"90s", 90 * time.Second, "1m30s"},
		{"1h0m30s", time.Hour + 30*time.Second, "1h0m30s"},
		{"250ms", 250 * time.Millisecond, "250ms"},
		{"0s", 0, "0s"},
	} {
		var d Duration
		if err := d.UnmarshalText([]byte(tt.in)); err != nil || d.D() != tt.want || d.String() != tt.str {
			t.Errorf("%q: got %v %q %v, want %v %q", tt.in, d.D(), d, err, tt.want, tt.str)
		}
		var back Duration
		if b, _ := d.MarshalText(); back.UnmarshalText(b) != nil || back != d {
			t.Errorf("%q does not round-trip", tt.in)
		}
	}
	for _, bad := range []string{"300", "5 minutes", "", "1d"} {
		var d Duration
		if err := d.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q: got %v, want error", bad, d.D())
		}
	}
}

func TestRoles(t *testing.T) {
	for _, r := range Roles() {
		l := Listener{Role: r}
		if !validRole(r) || l.DefaultPort() == 0 {
			t.Errorf("role %q: valid %v, port %d", r, validRole(r), l.DefaultPort())
		}
	}
	if validRole("lmtp") || validRole("SMTP") {
		t.Error("unknown role accepted")
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"hostname", "domains", "data_dir", "log", "limits"}
	for in, want := range map[string]string{
		"hostnme":  "hostname",
		"HOSTNAME": "hostname",
		"data_dri": "data_dir",
		"lgo":      "log",
		"domain":   "domains",
		"imap":     "",
		"x":        "",
		"password": "",
	} {
		if got := closest(in, keys); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPositions(t *testing.T) {
	doc := []byte(`top = 1
list = [
  { n = 1 },
  { n = 2 },
]
[a]
b.c = "x"
[[arr]]
k = 1
[[arr]]
k = 2
[arr.sub]
z = true
`)
	p := indexPositions(doc)
	for path, want := range map[string]int{
		"top":          1,
		"list[1]":      4,
		"list[1].n":    4,
		"list[1].m":    4, // not written: its parent's line
		"a":            6,
		"a.b.c":        7,
		"arr[0]":       8,
		"arr[0].k":     9,
		"arr[1].k":     11,
		"arr[1].sub.z": 13,
		"nothing":      0,
	} {
		if got := p.line(path); got != want {
			t.Errorf("line(%q) = %d, want %d", path, got, want)
		}
	}
	if got, _ := p.nearest("arr.k", 11); got != "arr[1].k" {
		t.Errorf("nearest(arr.k, 11) = %q", got)
	}
	if got, _ := p.nearest("n", 3); got != "list[0].n" {
		t.Errorf("nearest(n, 3) = %q", got)
	}
}
