package daemon

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadyzReasons: /readyz turns 503, with the reason, when a listener
// stops serving and when the store stops answering; /healthz stays 200.
func TestReadyzReasons(t *testing.T) {
	d, _ := startDaemon(t, "ready.example")
	ops := httptest.NewServer(d.OpsHandler())
	defer ops.Close()
	if code, body := httpGet(t, ops.URL+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	d.listenerFailed(errors.New("smtp listener 127.0.0.1:25: accept: too many open files"))
	if code, body := httpGet(t, ops.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "too many open files") {
		t.Errorf("/readyz after a listener failed = %d %q, want 503 with the reason", code, body)
	}

	d2, _ := startDaemon(t, "ready2.example")
	ops2 := httptest.NewServer(d2.OpsHandler())
	defer ops2.Close()
	d2.Store().Close() // Shutdown closes it again, which is a no-op
	if code, body := httpGet(t, ops2.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: store: ") {
		t.Errorf("/readyz with the store closed = %d %q, want 503 naming the store", code, body)
	}
	if code, _ := httpGet(t, ops2.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the store closed = %d, want 200", code)
	}
}
