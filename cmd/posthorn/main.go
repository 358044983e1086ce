// Command posthorn is a complete mail server in one binary. See
// `posthorn help`.
package main

import (
	"context"
	"os"

	"github.com/posthorn/posthorn/internal/cli"
)

func main() {
	env := &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(cli.Main(context.Background(), env, cli.Args(os.Args)))
}
