package imap

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// The wire codec depends on the standard library only.
func TestDependencies(t *testing.T) {
	checkImports(t, func(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") })
}

func checkImports(t *testing.T, allowed func(string) bool) {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); !allowed(p) {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
