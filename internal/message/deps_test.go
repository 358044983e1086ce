package message

import (
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// The MIME structure code depends on the standard library and the IMAP
// wire codec only.
func TestDependencies(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := goparser.ParseFile(fset, f, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			std := !strings.Contains(strings.SplitN(p, "/", 2)[0], ".")
			if !std && p != "github.com/posthorn/posthorn/internal/imap" {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
