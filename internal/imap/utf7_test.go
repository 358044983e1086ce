package imap

import "testing"

func TestMailboxUTF7(t *testing.T) {
	tests := []struct{ utf8, utf7 string }{
		// RFC 3501 §5.1.3
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"INBOX", "INBOX"},
		{"&", "&-"},
		{"Tom & Jerry", "Tom &- Jerry"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"},
		{"😀/x", "&2D3eAA-/x"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := EncodeMailbox(tt.utf8); got != tt.utf7 {
			t.Errorf("EncodeMailbox(%q) = %q, want %q", tt.utf8, got, tt.utf7)
		}
		got, err := DecodeMailbox(tt.utf7)
		if err != nil || got != tt.utf8 {
			t.Errorf("DecodeMailbox(%q) = %q, %v, want %q", tt.utf7, got, err, tt.utf8)
		}
	}
}

func TestMailboxUTF7Strict(t *testing.T) {
	for _, bad := range []string{
		"&",                  // unterminated
		"&U,BTFw",            // unterminated
		"&AGE-",              // "a" must stand for itself
		"&U,BTFw-&ZeVnLIqe-", // two adjacent shifts must be one
		"&U,BTF-",            // leftover bits
		"&U,BTFx-",           // non-zero padding bits
		"&2D0-",              // lone high surrogate
		"&3gA-",              // lone low surrogate
		"&Jjo!-",             // not base64
		"caf\xc3\xa9",        // 8-bit
		"a\tb",               // control
		"&/wA-",              // "/" is "," in modified base64
	} {
		if got, err := DecodeMailbox(bad); err == nil {
			t.Errorf("DecodeMailbox(%q) = %q, want error", bad, got)
		}
	}
}
