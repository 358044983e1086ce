package received

import (
	"net"
	"testing"
	"time"
)

func TestWith(t *testing.T) {
	for _, c := range []struct {
		utf8, tls, auth bool
		want            string
	}{
		{false, false, false, "ESMTP"}, {false, true, false, "ESMTPS"}, {false, false, true, "ESMTPA"},
		{false, true, true, "ESMTPSA"}, {true, false, false, "UTF8SMTP"}, {true, true, true, "UTF8SMTPSA"},
	} {
		if got := With(c.utf8, c.tls, c.auth); got != c.want {
			t.Errorf("With(%v, %v, %v) = %s, want %s", c.utf8, c.tls, c.auth, got, c.want)
		}
	}
}

func TestAppendReceived(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	hop := Hop{With: "ESMTPSA", ID: "abc", For: "bob@example.test"}
	for _, c := range []struct {
		conn Conn
		helo string
		want string
	}{
		{Conn{By: "mx.test", IP: net.ParseIP("192.0.2.1")}, "client.test",
			"Received: from client.test ([192.0.2.1])\r\n\tby mx.test with ESMTPSA id abc\r\n\tfor <bob@example.test>;\r\n\tSat, 14 Mar 2026 15:09:26 +0000\r\n"},
		{Conn{By: "mx.test", IP: net.ParseIP("2001:db8::1")}, "bad (helo)\r\nX-Injected: 1",
			"Received: from [IPv6:2001:db8::1] (helo=bad??helo???X-Injected:?1)\r\n\tby mx.test with ESMTPSA id abc\r\n\tfor <bob@example.test>;\r\n\tSat, 14 Mar 2026 15:09:26 +0000\r\n"},
		{Conn{By: "mx.test", IP: net.ParseIP("192.0.2.1"), HideClient: true}, "client.test",
			"Received: by mx.test with ESMTPSA id abc\r\n\tfor <bob@example.test>;\r\n\tSat, 14 Mar 2026 15:09:26 +0000\r\n"},
		{Conn{By: "mx.test", Local: "uid 33 www-(data)\r\nX: 1"}, "client.test",
			"Received: from local (uid 33 www-?data? X: 1)\r\n\tby mx.test with ESMTPSA id abc\r\n\tfor <bob@example.test>;\r\n\tSat, 14 Mar 2026 15:09:26 +0000\r\n"},
	} {
		h := hop
		h.Helo = c.helo
		if got := string(c.conn.AppendReceived(nil, h, now)); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
	if got := string(AppendReturnPath(nil, "")); got != "Return-Path: <>\r\n" {
		t.Errorf("null sender: %q", got)
	}
}
