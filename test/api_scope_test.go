package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// TestAPIAddressKeyScope: in dev mode (outbound mail stays queued), keys
// limited to alice@ and bob@ of one domain each send through the API, and
// alice also submits over SMTP (swaks, STARTTLS, her login). Each address
// key gets the status and events of the messages sent as its address,
// whether by API or SMTP, and for the other's a 404 with the very body an
// unknown id gets (existence is not confirmed) and no events; bob's local
// delivery to alice is not listed for alice's key as an event to her. The
// domain key sees every message.
func TestAPIAddressKeyScope(t *testing.T) {
	swaks := tools.Look(t, "swaks")
	s := startDev(t, filepath.Join(t.TempDir(), "dev"), loopbackIP(t))
	alice, bob := s.info.Accounts[0], s.info.Accounts[1]
	newKey := func(name, scope string) string {
		t.Helper()
		out, err := run(t, nil, "apikey", "create", "-config", s.info.ConfigFile, name, scope)
		key := regexp.MustCompile(`ph_[0-9a-z]{52}`).FindString(out)
		if err != nil || key == "" {
			t.Fatalf("apikey create %s %s: %v\n%s", name, scope, err, out)
		}
		return key
	}
	domainKey, aliceKey, bobKey := newKey("shop", s.info.Domain), newKey("alice", alice.Address), newKey("bob", bob.Address)

	api := func(key, method, path, body string) (int, []byte) {
		t.Helper()
		return apiRequest(t, key, method, fmt.Sprintf("http://%s:%d%s", s.info.Host, s.info.Ports["http"], path), body)
	}
	send := func(key, from, to string) string {
		t.Helper()
		code, b := api(key, "POST", "/api/v1/messages", fmt.Sprintf(`{"from": %q, "to": [%q], "subject": "hi", "text": "hi"}`, from, to))
		var v struct{ ID string }
		if code != 202 || json.Unmarshal(b, &v) != nil || v.ID == "" {
			t.Fatalf("send from %s: %d %s\n%s", from, code, b, s.out)
		}
		return v.ID
	}
	type event struct{ Type, Message, Recipient string }
	events := func(key, query string) []event {
		t.Helper()
		code, b := api(key, "GET", "/api/v1/events?"+query, "")
		var l struct{ Events []event }
		if code != 200 || json.Unmarshal(b, &l) != nil {
			t.Fatalf("GET /events?%s: %d %s", query, code, b)
		}
		return l.Events
	}

	aliceAPI := send(aliceKey, alice.Address, "api-alice@remote.test")
	bobAPI := send(bobKey, bob.Address, "api-bob@remote.test")
	smtp := func(user, password, from, to string) {
		t.Helper()
		out, err := exec.Command(swaks, "--server", fmt.Sprintf("%s:%d", s.info.Host, s.info.Ports["submission"]), "--tls",
			"--tls-verify", "--tls-ca-path", s.info.CAFile, "--auth", "PLAIN", "--auth-user", user, "--auth-password", password,
			"--from", from, "--to", to, "--header", "Subject: by SMTP", "--timeout", "30").CombinedOutput()
		if err != nil {
			t.Fatalf("swaks as %s: %v\n%s\nserver:\n%s", user, err, out, s.out)
		}
	}
	smtp(alice.Address, alice.Password, alice.Address, "smtp-alice@remote.test")
	smtp(bob.Address, bob.Password, bob.Address, alice.Address) // stored in alice's INBOX
	idTo := func(rcpt string) string {
		t.Helper()
		evs := events(domainKey, "recipient="+url.QueryEscape(rcpt))
		if len(evs) != 1 || evs[0].Message == "" {
			t.Fatalf("events to %s for the domain key: %+v, want one", rcpt, evs)
		}
		return evs[0].Message
	}
	aliceSMTP, bobToAlice := idTo("smtp-alice@remote.test"), idTo(alice.Address)

	_, unknown := api(aliceKey, "GET", "/api/v1/messages/m_aaaaaaaaaaaaaaaaaaaaaaaaaa", "")
	for _, c := range []struct {
		who, key, id string
		visible      bool
	}{
		{"alice, her API message", aliceKey, aliceAPI, true},
		{"alice, her SMTP message", aliceKey, aliceSMTP, true},
		{"alice, bob's API message", aliceKey, bobAPI, false},
		{"alice, bob's message to her", aliceKey, bobToAlice, false},
		{"bob, his API message", bobKey, bobAPI, true},
		{"bob, his message to alice", bobKey, bobToAlice, true},
		{"bob, alice's API message", bobKey, aliceAPI, false},
		{"bob, alice's SMTP message", bobKey, aliceSMTP, false},
		{"domain key, alice's SMTP message", domainKey, aliceSMTP, true},
		{"domain key, bob's API message", domainKey, bobAPI, true},
	} {
		code, b := api(c.key, "GET", "/api/v1/messages/"+c.id, "")
		evs := events(c.key, "message="+url.QueryEscape(c.id))
		if c.visible {
			if code != 200 || !strings.Contains(string(b), `"id":"`+c.id+`"`) || len(evs) == 0 {
				t.Errorf("%s: GET /messages/{id} = %d %s, %d events; want its status and events", c.who, code, b, len(evs))
			}
			continue
		}
		if code != 404 || string(b) != string(unknown) {
			t.Errorf("%s: GET /messages/{id} = %d %s, want 404 %s (an unknown id's answer)", c.who, code, b, unknown)
		}
		if len(evs) != 0 {
			t.Errorf("%s: events %+v, want none", c.who, evs)
		}
	}
	if evs := events(aliceKey, "recipient="+url.QueryEscape(alice.Address)); len(evs) != 0 {
		t.Errorf("alice's key, events to alice: %+v; want none (bob's delivery to her is bob's message)", evs)
	}
}

// apiRequest makes one HTTP API request with key (JSON when body is not
// empty) and returns the status and body.
func apiRequest(t *testing.T, key, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, b
}
