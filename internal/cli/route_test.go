package cli

import "testing"

func TestRouteCommands(t *testing.T) {
	dd := "-data-dir=" + t.TempDir()
	runSteps(t, []cliStep{
		{[]string{"domain", "add", dd, "example.org"}, 0, "added domain"},
		{[]string{"route", "add", dd, "Reply+*@Example.org", "http://127.0.0.1:8080/inbound"}, 0, "added route 1: reply+*@example.org -> http://127.0.0.1:8080/inbound\nsecret: whsec_"},
		{[]string{"route", "add", dd, "reply+*@example.org", "http://127.0.0.1:8080/other"}, 1, "route reply+*@example.org exists (id 1)"},
		{[]string{"route", "add", dd, "-keep", "support@example.org", "https://app.example/mail"}, 0, "added route 2: support@example.org -> https://app.example/mail (keep)"},
		{[]string{"route", "add", dd, "*@unknown.example", "http://127.0.0.1/"}, 1, "not served here"},
		{[]string{"route", "add", dd, "a*b@example.org", "http://127.0.0.1/"}, 1, "may only end the local part"},
		{[]string{"route", "add", dd, "*@example.org", "ftp://x/"}, 1, "not an absolute http or https URL"},
		{[]string{"route", "add", dd, "*@example.org"}, 2, "name a pattern and a URL"},
		{[]string{"route", "list", dd}, 0, "1 reply+*@example.org -> http://127.0.0.1:8080/inbound\n2 support@example.org -> https://app.example/mail (keep)\n"},
		{[]string{"route", "rm", dd, "support@EXAMPLE.org"}, 0, "removed route 2: support@example.org"},
		{[]string{"route", "rm", dd, "1"}, 0, "removed route 1"},
		{[]string{"route", "rm", dd, "1"}, 1, "no route 1"},
		{[]string{"route", "list", dd}, 0, ""},
	})
}
