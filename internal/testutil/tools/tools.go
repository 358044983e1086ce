// Package tools finds the external programs tests talk to (swaks, python3
// with dkimpy, fetchmail, ...) under one rule: a tool that is installed is
// used; a missing one skips the test, except under CI=true, where it fails
// it (test.sh's TOOLS list installs them).
package tools

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CI reports whether tests run under CI=true, where a missing tool is a
// failure, not a skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test for want of what: it fails under CI=true and
// skips otherwise.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	what := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s is required under CI=true (see TOOLS in test.sh)", what)
	}
	t.Skipf("%s is not installed", what)
}

// Look returns the path of the command name, or ends the test as Missing
// does.
func Look(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s (%v)", name, err)
	}
	return p
}

// Python returns a Python 3 interpreter that imports all of modules:
// Debian's /usr/bin/python3 first, since Debian's python3-* packages
// install for it and a python3 earlier in PATH (pyenv, venv) may not see
// them, then python3 from PATH. Without one it ends the test as Missing
// does.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if len(modules) == 0 || exec.Command(path, "-c", "import "+strings.Join(modules, ", ")).Run() == nil {
			return path
		}
	}
	if len(modules) == 0 {
		Missing(t, "python3")
	} else {
		Missing(t, "python3 with the modules %s (Debian python3-*)", strings.Join(modules, ", "))
	}
	return ""
}
