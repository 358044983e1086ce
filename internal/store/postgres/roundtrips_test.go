package postgres

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
)

// roundTripCounter is a TCP relay on loopback in front of a PostgreSQL
// server that counts the client's round trips: the Sync and Query
// messages of the frontend protocol, each of which the client waits on
// (pgx sends a prepared statement as Bind, Describe, Execute, Sync).
type roundTripCounter struct {
	ln    net.Listener
	dsn   string // the DSN through the relay
	trips atomic.Int64
}

// newRoundTripCounter relays to the server of dsn, a postgres:// URL
// with sslmode=disable (as pgtest's); it stops when the test ends.
func newRoundTripCounter(tb testing.TB, dsn string) *roundTripCounter {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	u.Host = ln.Addr().String()
	c := &roundTripCounter{ln: ln, dsn: u.String()}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go c.relay(conn, target)
		}
	}()
	tb.Cleanup(func() { ln.Close() })
	return c
}

func (c *roundTripCounter) relay(client net.Conn, target string) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		io.Copy(client, server)
		client.Close()
	}()
	c.count(bufio.NewReader(client), server)
}

// count copies the client's messages to w, counting Sync ('S') and Query
// ('Q'). The startup message (and an SSLRequest before it) has no type
// byte.
func (c *roundTripCounter) count(r *bufio.Reader, w io.Writer) {
	var head [5]byte
	for startup := true; ; {
		n := 5
		if startup {
			n = 4
		}
		if _, err := io.ReadFull(r, head[:n]); err != nil {
			return
		}
		size := int(binary.BigEndian.Uint32(head[n-4 : n]))
		body := make([]byte, size-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if startup {
			// An SSLRequest or GSSENCRequest (refused under
			// sslmode=disable) comes before the startup message.
			startup = len(body) == 4 && binary.BigEndian.Uint32(body) >= 80877103
		} else if head[0] == 'S' || head[0] == 'Q' {
			c.trips.Add(1)
		}
		if _, err := w.Write(append(head[:n:n], body...)); err != nil {
			return
		}
	}
}
