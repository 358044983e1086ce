//go:build unix

package sqlite

import (
	"os"
	"syscall"
)

// mapVersion maps the first n bytes of f, shared, read-only.
func mapVersion(f *os.File, n int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, n, syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmapVersion(b []byte) { syscall.Munmap(b) }
