package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/zhiliao/zhiliao/store"
)

// runVersion is `zhiliao version`: the module version, the commit and its
// time as the Go toolchain stamped them into the binary, and the core
// schema version its migrations bring a database to. It needs no data
// folder: an operator asks it before pointing the binary at one.
func runVersion(stdout io.Writer) error {
	version, commit, when, dirty := buildVersion()
	if dirty {
		commit += " (modified)"
	}
	fmt.Fprintf(stdout, "zhiliao %s\n提交 commit  %s %s\n数据库结构 schema version %d (SQLite), %d (PostgreSQL)\n%s %s/%s\n",
		version, commit, when, store.LatestSchemaVersion(), store.LatestSchemaVersionOf("postgres"), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// buildVersion is the module version and the commit the Go toolchain
// stamped into the binary.
func buildVersion() (version, commit, when string, dirty bool) {
	version, commit = "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	return version, commit, when, dirty
}
