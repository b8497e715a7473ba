package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/hush-chat/hush/metrics"
)

// Set at build time, e.g.
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=$(git rev-parse --short HEAD)"
//
// Left empty, they come from the module and VCS stamps Go embeds.
var (
	version string
	commit  string
)

// buildInfo says which build this is.
func buildInfo() (ver, rev, goVersion string) {
	ver, rev, goVersion = version, commit, runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		if ver == "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		if rev == "" {
			dirty := false
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					dirty = s.Value == "true"
				}
			}
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if rev != "" && dirty {
				rev += "-dirty"
			}
		}
	}
	if ver == "" {
		ver = "dev"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev, goVersion
}

func printVersion(w io.Writer) {
	ver, rev, goVersion := buildInfo()
	fmt.Fprintf(w, "hush %s (commit %s, %s)\n", ver, rev, goVersion)
}

func build() metrics.Build {
	ver, rev, goVersion := buildInfo()
	return metrics.Build{Version: ver, Commit: rev, GoVersion: goVersion}
}
