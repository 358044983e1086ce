package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// validateOpenAPI is run by python3: it validates the document on stdin
// with openapi-spec-validator (OpenAPI 3.0 and 3.1, with the JSON Schema
// of the version the document names) and prints "valid" or the error.
const validateOpenAPI = `
import json, sys
from openapi_spec_validator import validate
try:
    validate(json.load(sys.stdin))
except Exception as e:
    print("invalid:", str(e).splitlines()[0])
    sys.exit(1)
print("valid")
`

// TestOpenAPIDocumentValid fetches /api/v1/openapi.json from a running
// server's http listener without an API key, as a code generator would,
// and has openapi-spec-validator check it against the OpenAPI
// specification; a copy with one operation broken must fail, so a
// validator that accepts anything cannot pass the test. The module comes
// with the machine's Python (pip); Debian has no package of it.
func TestOpenAPIDocumentValid(t *testing.T) {
	py := tools.Python(t, "openapi_spec_validator")
	ip := loopbackIP(t)
	addr := fmt.Sprintf("%s:%d", ip, deliverytest.FreePort(t, ip))
	dir := t.TempDir()
	srv := startServe(t, dir, serveConfig("mail.a.test", filepath.Join(dir, "data"), "http", addr, "127.0.0.1:9"), addr)

	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Get("http://" + addr + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var whole map[string]any
	if err := json.Unmarshal(doc, &whole); err != nil {
		t.Fatalf("not JSON (%v): %.200s", err, doc)
	}
	post, _ := dig(whole, "paths", "/api/v1/messages", "post").(map[string]any)
	if v, _ := whole["openapi"].(string); !strings.HasPrefix(v, "3.") || post == nil {
		t.Fatalf("not an OpenAPI 3 document with POST /api/v1/messages: %.200s", doc)
	}

	validate := func(doc []byte) (string, error) {
		cmd := exec.Command(py, "-c", validateOpenAPI)
		cmd.Stdin = strings.NewReader(string(doc))
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := validate(doc); err != nil || out != "valid" {
		t.Errorf("the served document is not valid OpenAPI: %v\n%s", err, out)
	}

	// The control: an operation whose responses are not an object.
	post["responses"] = "none"
	broken, _ := json.Marshal(whole)
	if out, err := validate(broken); err == nil {
		t.Errorf("a broken document passed the validator: %s", out)
	}
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
}

// dig follows keys down nested JSON objects; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
