package config

import (
	"fmt"
	"path/filepath"
)

// maxSocketPath is the longest Unix socket path Linux takes (sun_path is
// 108 bytes with the terminating NUL).
const maxSocketPath = 107

func (v *validator) sendmail(s Sendmail) {
	if s.Socket == "" {
		return
	}
	if !filepath.IsAbs(s.Socket) {
		v.add("sendmail.socket", fmt.Sprintf("%q is not an absolute path", s.Socket), `the sendmail command finds the socket from any directory: use e.g. "/run/posthorn/sendmail.sock"`)
	}
	if len(s.Socket) > maxSocketPath {
		v.add("sendmail.socket", fmt.Sprintf("path is %d bytes long, more than the %d a Unix socket path may have", len(s.Socket), maxSocketPath), "choose a shorter path")
	}
}
