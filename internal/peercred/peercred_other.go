//go:build !linux

package peercred

import (
	"errors"
	"net"
)

// peerOf is only implemented on Linux (SO_PEERCRED).
func peerOf(*net.UnixConn) (*Addr, error) {
	return nil, errors.New("peer credentials are only supported on Linux")
}
