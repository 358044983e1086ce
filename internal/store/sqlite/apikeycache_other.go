//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

// mapVersion: no shared mappings here, so no key cache.
func mapVersion(*os.File, int) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmapVersion([]byte) {}
