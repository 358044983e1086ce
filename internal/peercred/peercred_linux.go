package peercred

import (
	"net"
	"syscall"
)

// peerOf reads SO_PEERCRED (socket(7)): the credentials the peer had
// when it called connect.
func peerOf(c *net.UnixConn) (*Addr, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := rc.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if credErr != nil {
		return nil, credErr
	}
	return &Addr{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid, User: lookupUser(cred.Uid)}, nil
}
