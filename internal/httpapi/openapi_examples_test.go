package httpapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestOpenAPIExamples makes one request of each documented kind and checks
// that every answer's status is documented for its operation and its body
// matches the documented schema (a small validator: $ref, type, required,
// properties, additionalProperties false, items, enum, oneOf).
func TestOpenAPIExamples(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{})
	e.account("bob@example.org")
	key := e.key("shop", "example.org")
	send := `{"from": "shop@example.org", "to": ["a@remote.example", "bob@example.org"], "text": "x", "tags": ["t"]}`
	r := e.do("POST", "/api/v1/messages", key, "application/json", strings.NewReader(send))
	var v sendResponse
	json.Unmarshal(r.body, &v)
	checks := []struct {
		path   string // the documented path
		method string
		r      response
	}{
		{"/api/v1/messages", "post", r},
		{"/api/v1/messages", "post", e.do("POST", "/api/v1/messages", key, "application/json", strings.NewReader(`{"from": 1}`))},
		{"/api/v1/messages", "post", e.do("POST", "/api/v1/messages", key, "text/plain", strings.NewReader(`x`))},
		{"/api/v1/messages", "post", e.do("POST", "/api/v1/messages", "", "application/json", strings.NewReader(send))},
		{"/api/v1/messages/{id}", "get", e.do("GET", "/api/v1/messages/"+v.ID, key, "", nil)},
		{"/api/v1/messages/{id}", "get", e.do("GET", "/api/v1/messages/m_none", key, "", nil)},
		{"/api/v1/events", "get", e.do("GET", "/api/v1/events?limit=1", key, "", nil)},
		{"/api/v1/events", "get", e.do("GET", "/api/v1/events?type=x", key, "", nil)},
		{"/api/v1/suppressions", "post", e.do("POST", "/api/v1/suppressions", key, "application/json", strings.NewReader(`{"address": "x@remote.example"}`))},
		{"/api/v1/suppressions", "post", e.do("POST", "/api/v1/suppressions", key, "application/json", strings.NewReader(`{"address": "x@remote.example"}`))},
		{"/api/v1/suppressions", "get", e.do("GET", "/api/v1/suppressions", key, "", nil)},
		{"/api/v1/suppressions/{address}", "delete", e.do("DELETE", "/api/v1/suppressions/x@remote.example", key, "", nil)},
		{"/api/v1/suppressions/{address}", "delete", e.do("DELETE", "/api/v1/suppressions/x@remote.example", key, "", nil)},
		{"/api/v1/webhooks", "post", e.do("POST", "/api/v1/webhooks", key, "application/json", strings.NewReader(`{"url": "https://app.example/h"}`))},
		{"/api/v1/webhooks", "get", e.do("GET", "/api/v1/webhooks", key, "", nil)},
		{"/api/v1/webhooks/{id}", "delete", e.do("DELETE", "/api/v1/webhooks/999", key, "", nil)},
		{"/api/v1/key", "get", e.do("GET", "/api/v1/key", key, "", nil)},
	}
	paths := doc["paths"].(map[string]any)
	for _, c := range checks {
		op, _ := paths[c.path].(map[string]any)[c.method].(map[string]any)
		res, ok := resolve(doc, op["responses"].(map[string]any)[strconv.Itoa(c.r.status)])
		if !ok {
			t.Errorf("%s %s: status %d is not documented (%s)", c.method, c.path, c.r.status, c.r.body)
			continue
		}
		content, _ := res["content"].(map[string]any)
		if len(c.r.body) == 0 && content == nil {
			continue
		}
		schema, _ := content["application/json"].(map[string]any)["schema"]
		if schema == nil {
			continue
		}
		var body any
		if err := json.Unmarshal(c.r.body, &body); err != nil {
			t.Errorf("%s %s %d: body not JSON: %s", c.method, c.path, c.r.status, c.r.body)
			continue
		}
		if err := validate(doc, schema, body, "$"); err != nil {
			t.Errorf("%s %s %d: %v\n%s", c.method, c.path, c.r.status, err, c.r.body)
		}
	}
}

// resolve follows a $ref.
func resolve(doc any, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	if ref, ok := m["$ref"].(string); ok {
		t, ok := lookupPointer(doc, ref)
		if !ok {
			return nil, false
		}
		return resolve(doc, t)
	}
	return m, true
}

var dateTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)

// validate checks v against a JSON Schema subset.
func validate(doc, schema, v any, at string) error {
	s, ok := resolve(doc, schema)
	if !ok {
		return fmt.Errorf("%s: bad schema %v", at, schema)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		for _, a := range alts {
			if validate(doc, a, v, at) == nil {
				return nil
			}
		}
		return fmt.Errorf("%s: matches no oneOf alternative", at)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v not in %v", at, v, enum)
	}
	switch s["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not an object", at)
		}
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := m[r]; !ok {
				return fmt.Errorf("%s: required %q missing", at, r)
			}
		}
		for k, x := range m {
			p, ok := props[k]
			if !ok {
				if props != nil {
					return fmt.Errorf("%s: %q is not documented", at, k)
				}
				continue
			}
			if err := validate(doc, p, x, at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: not an array", at)
		}
		for i, x := range a {
			if err := validate(doc, s["items"], x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: not a string", at)
		}
		if s["format"] == "date-time" && !dateTime.MatchString(str) {
			return fmt.Errorf("%s: %q is not an RFC 3339 date-time", at, str)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s: not an integer", at)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: not a boolean", at)
		}
	}
	return nil
}

func asStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, x.(string))
	}
	return out
}

func asSlice(v any) []any { a, _ := v.([]any); return a }
