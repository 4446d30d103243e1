package migration_test

import (
	"os"
	"testing"

	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
)

// TestMain shares one SeaweedFS among the package's s3 variants.
func TestMain(m *testing.M) { os.Exit(blobtest.Main(m)) }
