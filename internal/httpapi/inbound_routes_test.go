package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestInboundRoutesAPI(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.st.AddDomain(t.Context(), "example.net"); err != nil {
		t.Fatal(err)
	}
	key := e.key("shop", "example.org")
	netKey := e.key("net", "example.net")
	addrKey := e.key("support", "support@example.org")
	post := func(key, body string) response {
		return e.do("POST", "/api/v1/routes", key, "application/json", strings.NewReader(body))
	}

	r := post(key, `{"pattern": "Reply+*@Example.org", "url": "https://app.example/inbound"}`)
	var rt inboundRoute
	if r.status != 201 || json.Unmarshal(r.body, &rt) != nil || rt.ID == 0 || rt.Pattern != "reply+*@example.org" ||
		!strings.HasPrefix(rt.Secret, "whsec_") || rt.Keep || !rt.Enabled {
		t.Fatalf("add route: %d %s", r.status, r.body)
	}
	// The route is a webhook endpoint with a pattern, as the MX expects.
	ep, err := e.st.WebhookEndpoint(t.Context(), rt.ID)
	if err != nil || ep.Pattern != "reply+*@example.org" || ep.Domain != "example.org" || ep.Secret != rt.Secret {
		t.Errorf("stored endpoint %+v %v", ep, err)
	}
	post(key, `{"pattern": "reply+*@example.org", "url": "https://app.example/other"}`).wantError(t, 409, CodeConflict, "pattern")
	post(key, `{"pattern": "a*b@example.org", "url": "https://app.example/x"}`).wantError(t, 400, CodeInvalid, "pattern")
	post(key, `{"pattern": "*@example.net", "url": "https://app.example/x"}`).wantError(t, 403, CodeForbidden, "pattern")
	post(key, `{"pattern": "*@example.org", "url": "ftp://x"}`).wantError(t, 400, CodeInvalid, "url")
	post(key, `{"pattern": "*@example.org", "url": "https://x.example", "types": ["inbound"]}`).wantError(t, 400, CodeUnknownField, "types")
	post(addrKey, `{"pattern": "*@example.org", "url": "https://x.example"}`).wantError(t, 403, CodeForbidden, "pattern")
	r = post(addrKey, `{"pattern": "support@example.org", "url": "https://app.example/support", "keep": true}`)
	var support inboundRoute
	if r.status != 201 || json.Unmarshal(r.body, &support) != nil || !support.Keep {
		t.Fatalf("address key adds its own address: %d %s", r.status, r.body)
	}

	r = e.do("GET", "/api/v1/routes", key, "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), "reply+*@example.org") || !strings.Contains(string(r.body), "support@example.org") ||
		strings.Contains(string(r.body), "whsec_") {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/routes", addrKey, "", nil); strings.Contains(string(r.body), "reply+") {
		t.Errorf("the address key sees another address's route: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/routes", netKey, "", nil); strings.TrimSpace(string(r.body)) != `{"routes":[]}` {
		t.Errorf("another domain sees routes: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/webhooks", key, "", nil); strings.Contains(string(r.body), "app.example") {
		t.Errorf("routes listed as webhooks: %s", r.body)
	}

	id := "/api/v1/routes/" + itoa(rt.ID)
	e.do("DELETE", id, netKey, "", nil).wantError(t, 404, CodeNotFound, "")
	e.do("DELETE", id, addrKey, "", nil).wantError(t, 404, CodeNotFound, "")
	if r := e.do("DELETE", id, key, "", nil); r.status != 204 {
		t.Errorf("remove: %d %s", r.status, r.body)
	}
	e.do("DELETE", id, key, "", nil).wantError(t, 404, CodeNotFound, "")
	// A webhook endpoint is not a route.
	r = e.do("POST", "/api/v1/webhooks", key, "application/json", strings.NewReader(`{"url": "https://app.example/hooks"}`))
	var wh webhook
	if r.status != 201 || json.Unmarshal(r.body, &wh) != nil {
		t.Fatalf("add webhook: %d %s", r.status, r.body)
	}
	e.do("DELETE", "/api/v1/routes/"+itoa(wh.ID), key, "", nil).wantError(t, 404, CodeNotFound, "")
}
