package mcpserver

import (
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
)

// The test binary also serves as `bgtask mcp`, as the toolbox entries and
// as a task's supervisor: see toolboxtest.Main.
func TestMain(m *testing.M) { toolboxtest.Main(m, nil, cli.Main, Command()) }
