// Package buildinfo reads what the Go toolchain embedded in the binary
// about its build: module version, VCS revision and time, Go version and
// platform. `tenantferry version` prints it and the server exports it as
// the tenantferry_build_info metric.
//
// Invariants: nothing is stamped by hand (no -ldflags); a binary built
// from a git checkout carries its revision, one built otherwise reports
// an empty revision; the package imports nothing of the module, so any
// package may use it.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info is the build information of the running binary.
type Info struct {
	// Version is the module version ("(devel)" for a build from a checkout).
	Version string
	// Revision and Time are the VCS commit and its time, when the binary
	// was built from a git checkout; Modified says the tree had changes.
	Revision, Time string
	Modified       bool
	// GoVersion, OS and Arch describe the toolchain and the platform.
	GoVersion, OS, Arch string
}

// Read returns the running binary's build information.
func Read() Info {
	b := Info{Version: "(devel)", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := bi.Main.Version; v != "" {
		b.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}
