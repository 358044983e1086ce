package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no document makes Parse panic, and that a failure
// is always an ErrorList.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.toml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(Sample()))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse("fuzz.toml", doc)
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("error %T %v is not an ErrorList", err, err)
			}
			if c != nil {
				t.Fatal("config returned with an error")
			}
		}
	})
}
