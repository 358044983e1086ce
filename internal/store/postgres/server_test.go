package postgres

import (
	"net"
	"strings"
	"testing"
)

// TestOpenUnreachable: a server nobody listens on is reported as a
// connection failure naming the address, not as a failed schema step.
func TestOpenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	_, err = Open(t.Context(), "postgres://posthorn@"+addr+"/mail?sslmode=disable&connect_timeout=5", Options{})
	if err == nil {
		t.Fatal("Open of an address nobody listens on succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "connecting to PostgreSQL at "+addr) || strings.Contains(msg, "schema") {
		t.Fatalf("error does not say which server could not be reached: %v", err)
	}
}
