// Command tenantferry is the whole of tenantferry in one binary: the server
// (serve), the admin CLI, the demo and the benchmark. See README.md.
package main

import (
	"os"

	"github.com/tenantferry/tenantferry/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
