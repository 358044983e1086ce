package httpapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIRoutes fails when routes.go and openapi.json list different
// operations (method and path), and checks that the document served is
// the embedded one and that every $ref in it resolves.
func TestOpenAPIRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	var inDoc, inRoutes []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" || m == "summary" || m == "description" {
				continue
			}
			inDoc = append(inDoc, strings.ToUpper(m)+" "+p)
		}
	}
	for _, rt := range (&Server{}).routes() {
		inRoutes = append(inRoutes, rt.method+" "+rt.path)
	}
	slices.Sort(inDoc)
	slices.Sort(inRoutes)
	for _, r := range inRoutes {
		if !slices.Contains(inDoc, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range inDoc {
		if !slices.Contains(inRoutes, d) {
			t.Errorf("openapi.json has %s, which routes.go does not register", d)
		}
	}

	// Every $ref points at something.
	var all any
	json.Unmarshal(openAPIDoc, &all)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, ok := lookupPointer(all, ref); !ok {
					t.Errorf("$ref %q resolves to nothing", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(all)

	e := newEnv(t, Options{})
	r := e.do("GET", "/api/v1/openapi.json", "", "", nil)
	if r.status != 200 || string(r.body) != string(openAPIDoc) || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /api/v1/openapi.json = %d %s, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
}

// lookupPointer resolves a local JSON pointer "#/a/b" in doc.
func lookupPointer(doc any, ref string) (any, bool) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	cur := doc
	for _, part := range strings.Split(p, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}
