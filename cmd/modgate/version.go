package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at link time by builds that have no version control information to
// stamp (the container image is built without .git):
//
//	go build -ldflags "-X main.version=v0.2.0 -X main.revision=$(git rev-parse HEAD) -X main.buildTime=$(date -u +%FT%TZ)"
//
// Unset, they come from the build information Go records.
var version, revision, buildTime string

// buildVersion is what `modgate version` reports.
type buildVersion struct {
	Version    string // the module's version: a tag, a pseudo-version, or (devel)
	Revision   string // the VCS commit
	CommitTime string // the commit's time
	Modified   bool   // built from a tree with uncommitted changes
	BuildTime  string // only when stamped by the build
	Go         string
	Platform   string
}

// versionOf reads the build information, letting values stamped at link
// time win over it.
func versionOf(info *debug.BuildInfo, ok bool) buildVersion {
	v := buildVersion{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok {
		if info.Main.Version != "" {
			v.Version = info.Main.Version
		}
		v.Go = info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.CommitTime = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			case "GOOS":
				v.Platform = s.Value + v.Platform[strings.Index(v.Platform, "/"):]
			case "GOARCH":
				v.Platform = v.Platform[:strings.Index(v.Platform, "/")+1] + s.Value
			}
		}
	}
	if version != "" {
		v.Version = version
	}
	if revision != "" {
		v.Revision, v.Modified = revision, false
	}
	if buildTime != "" {
		v.BuildTime = buildTime
	}
	return v
}

func (v buildVersion) write(w io.Writer) {
	fmt.Fprintln(w, "modgate", v.Version)
	if v.Revision != "" {
		fmt.Fprint(w, "revision:    ", v.Revision)
		if v.Modified {
			fmt.Fprint(w, " (with uncommitted changes)")
		}
		fmt.Fprintln(w)
	}
	if v.CommitTime != "" {
		fmt.Fprintln(w, "commit time:", v.CommitTime)
	}
	if v.BuildTime != "" {
		fmt.Fprintln(w, "built:      ", v.BuildTime)
	}
	fmt.Fprintln(w, "go:         ", v.Go, v.Platform)
}

const versionText = `usage: modgate version   (or modgate --version)

Prints the module version (a release tag such as v0.2.0, or a
pseudo-version naming the commit), the VCS revision, the commit time, the
build time when the build stamped one, and the Go toolchain.
`

func printVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, usageOf(fs, versionText), stdout, stderr); !ok {
		return code
	}
	if code := noArguments("version", fs.Args(), stderr); code != 0 {
		return code
	}
	versionOf(debug.ReadBuildInfo()).write(stdout)
	return 0
}
