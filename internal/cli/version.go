package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3".
var Version = "devel"

// BuildInfo describes this binary: version, VCS commit and Go version.
func BuildInfo() (version, commit, goVersion string) {
	version, commit = Version, "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "devel" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && commit != "unknown" {
			commit += "-dirty"
		}
	}
	return version, commit, runtime.Version()
}

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print version, commit and Go version",
		run: func(_ context.Context, env *Env, fs *flag.FlagSet) error {
			if fs.NArg() != 0 {
				return usagef("takes no arguments")
			}
			v, c, g := BuildInfo()
			fmt.Fprintf(env.Stdout, "posthorn %s (commit %s, %s %s/%s)\n", v, c, g, runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
