// Command gendoc writes the configuration reference (docs/config.md) from
// the doc comments in internal/config/config.go. Run it with
// "go generate ./internal/config".
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/posthorn/posthorn/internal/config"
)

func main() {
	out := flag.String("o", "docs/config.md", "file to write")
	flag.Parse()
	ref, err := config.Reference()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, ref, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}
