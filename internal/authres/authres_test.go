package authres_test

import (
	"strings"
	"testing"

	msgauthres "github.com/emersion/go-msgauth/authres"

	"github.com/posthorn/posthorn/internal/authres"
)

func TestAppendField(t *testing.T) {
	got := string(authres.AppendField(nil, "mx.example.test", []authres.Result{
		&msgauthres.SPFResult{Value: "pass", From: "alice@example.org"},
		&msgauthres.DKIMResult{Value: "fail", Domain: "example.org", Identifier: "@example.org", Reason: "bad signature"},
		&msgauthres.DMARCResult{Value: "pass", From: "example.org"},
	}))
	want := "Authentication-Results: mx.example.test;\r\n" +
		"\tspf=pass smtp.mailfrom=alice@example.org;\r\n" +
		"\tdkim=fail reason=\"bad signature\" header.d=example.org header.i=@example.org;\r\n" +
		"\tdmarc=pass header.from=example.org\r\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// What we write, go-msgauth's parser reads back.
	value := strings.TrimPrefix(strings.ReplaceAll(got, "\r\n\t", " "), "Authentication-Results: ")
	id, results, err := msgauthres.Parse(strings.TrimSpace(value))
	if err != nil || id != "mx.example.test" || len(results) != 3 {
		t.Errorf("Parse: %q %d results, %v", id, len(results), err)
	}
	long := string(authres.AppendField(nil, "mx.example.test", []authres.Result{
		&msgauthres.SPFResult{Value: "none", Helo: strings.Repeat("h", 3000)},
	}))
	if long != "Authentication-Results: mx.example.test;\r\n\tspf=none\r\n" {
		t.Errorf("overlong result: %q", long)
	}
	if got := string(authres.AppendField(nil, "mx.example.test", nil)); got != "Authentication-Results: mx.example.test; none\r\n" {
		t.Errorf("no results: %q", got)
	}
}

func TestRemoveOurs(t *testing.T) {
	const keep = "Authentication-Results: other.example; spf=pass smtp.mailfrom=a@b.example\r\n" +
		"Authentication-Results: mx.example.test.evil; dkim=pass\r\n"
	msg := "Received: from x\r\n" +
		"Authentication-Results: mx.example.test; dkim=pass\r\n\theader.d=bank.example\r\n" +
		keep +
		"authentication-results : (forged) MX.Example.Test (comment);\r\n dmarc=pass\r\n" +
		"Subject: hi\r\n" +
		"\r\n" +
		"Authentication-Results: mx.example.test; body text stays\r\n"
	got, found := authres.RemoveOurs([]byte(msg), "mx.example.test")
	want := "Received: from x\r\n" + keep + "Subject: hi\r\n\r\nAuthentication-Results: mx.example.test; body text stays\r\n"
	if !found || string(got) != want {
		t.Errorf("got %v\n%s\nwant\n%s", found, got, want)
	}
	clean := []byte("Subject: x\r\n\r\nbody\r\n")
	if got, found := authres.RemoveOurs(clean, "mx.example.test"); found || &got[0] != &clean[0] {
		t.Errorf("clean message copied or changed: %v %q", found, got)
	}
}
