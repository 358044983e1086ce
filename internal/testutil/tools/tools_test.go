package tools

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLookFound: an installed command is found by its path.
func TestLookFound(t *testing.T) {
	if p := Look(t, "sh"); !strings.HasSuffix(p, "/sh") {
		t.Fatalf("Look(sh) = %q", p)
	}
}

// TestMissingRule runs a test that needs a command nobody has, in a child
// process: it is skipped without CI and fails with CI=true.
func TestMissingRule(t *testing.T) {
	if os.Getenv("TOOLS_CHILD") == "1" {
		Look(t, "posthorn-no-such-tool")
		t.Fatal("Look returned for a missing tool")
	}
	for _, tc := range []struct {
		ci       string
		fails    bool
		wantText string
	}{
		{"", false, "--- SKIP: TestMissingRule"},
		{"false", false, "--- SKIP: TestMissingRule"},
		{"true", true, "--- FAIL: TestMissingRule"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestMissingRule$", "-test.v")
		cmd.Env = append(os.Environ(), "TOOLS_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fails || !strings.Contains(string(out), tc.wantText) {
			t.Errorf("CI=%q: err %v, output:\n%s", tc.ci, err, out)
		}
	}
}

// TestPythonModules: a module that does not exist is Missing; none at all
// finds an interpreter when there is one.
func TestPythonModules(t *testing.T) {
	if os.Getenv("TOOLS_CHILD") == "1" {
		Python(t, "posthorn_no_such_module")
		t.Fatal("Python returned without the module")
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestPythonModules$", "-test.v")
	cmd.Env = append(os.Environ(), "TOOLS_CHILD=1", "CI=true")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "posthorn_no_such_module") {
		t.Errorf("CI=true: err %v, output:\n%s", err, out)
	}
	if p := Python(t, "json"); p == "" {
		t.Fatal("no path")
	}
}
