package main

import (
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/gocmd"
)

// refused are what the lean build must not link: agents start it on
// every tool call and shells on every start, so what only people and MCP
// clients need stays in the full bgtask. An entry refuses the package
// and those under it.
var refused = []string{
	"github.com/charmbracelet",                       // the live view's TUI libraries
	"github.com/modelcontextprotocol",                // the MCP SDK
	"github.com/pelletier/go-toml",                   // the installer's config files
	"net/http",                                       // no HTTP client
	"crypto/tls",                                     // no TLS
	"crypto/internal/fips140",                        // any crypto hash links the FIPS module: 27 packages, 1.1x on every call's start (hash/fnv names sockets)
	"github.com/amp-bg-tasks/amp-bg-tasks/installer", // install, doctor
	"github.com/amp-bg-tasks/amp-bg-tasks/mcpserver", // bgtask mcp
	"github.com/amp-bg-tasks/amp-bg-tasks/top",       // bgtask top
	"go.yaml.in/yaml",                                // YAML's init costs every call 0.4 ms: process-compose files are read by the full bgtask
	"github.com/amp-bg-tasks/amp-bg-tasks/stack/compose",
}

// The lean build links none of what it leaves out, down to the standard
// library's HTTP and TLS.
func TestLeanBuildLinksNoneOfTheFull(t *testing.T) {
	t.Parallel()
	out, err := gocmd.Command(t, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 2 || deps[len(deps)-1] != "github.com/amp-bg-tasks/amp-bg-tasks/cmd/bgtask-tool" {
		t.Fatalf("go list -deps listed %d packages, not ending with bgtask-tool", len(deps))
	}
	for _, dep := range deps {
		for _, r := range refused {
			if dep == r || strings.HasPrefix(dep, r+"/") {
				t.Errorf("cmd/bgtask-tool links %s", dep)
			}
		}
	}
}
