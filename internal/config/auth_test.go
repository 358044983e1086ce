package config

import (
	"strings"
	"testing"
)

func TestAuthAndSubmissionKeys(t *testing.T) {
	c, err := Parse("t.toml", []byte(`
hostname = "mail.example.org"
[auth]
failure_delay = "2s"
max_failure_delay = "30s"
max_failures_per_ip = 50
max_failures_per_account = 5
lockout_window = "1h"
[submission]
hide_client_ip = true
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.FailureDelay.D().Seconds() != 2 || c.Auth.MaxFailureDelay.D().Seconds() != 30 || c.Auth.MaxFailuresPerIP != 50 ||
		c.Auth.MaxFailuresPerAccount != 5 || c.Auth.LockoutWindow.D().Hours() != 1 || !c.Submission.HideClientIP {
		t.Errorf("decoded %+v %+v", c.Auth, c.Submission)
	}
	d := Default()
	if d.Auth.MaxFailuresPerAccount != 10 || d.Auth.LockoutWindow.D().Minutes() != 15 || d.Submission.HideClientIP {
		t.Errorf("defaults %+v %+v", d.Auth, d.Submission)
	}

	_, err = Parse("t.toml", []byte(`
hostname = "mail.example.org"
[auth]
failure_delay = "10s"
max_failure_delay = "5s"
max_failures_per_ip = 0
lockout_window = "-1m"
`))
	for _, want := range []string{"auth.max_failure_delay", "auth.max_failures_per_ip", "auth.lockout_window"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}
