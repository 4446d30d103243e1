package buildinfo_test

import (
	"runtime"
	"testing"

	"github.com/tenantferry/tenantferry/internal/buildinfo"
)

// TestRead: the build information names the running toolchain and
// platform, and always has a version.
func TestRead(t *testing.T) {
	b := buildinfo.Read()
	if b.Version == "" || b.GoVersion != runtime.Version() || b.OS != runtime.GOOS || b.Arch != runtime.GOARCH {
		t.Errorf("Read() = %+v", b)
	}
}
