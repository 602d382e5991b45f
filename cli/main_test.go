package cli

import (
	"bytes"
	"context"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The test binary also serves as bgtask (tasktest.MainAsEnv=bgtask), as a
// task's supervisor and as the commands tasks run: see toolboxtest.Main.
func TestMain(m *testing.M) {
	helpers.Register("tree", helperproc.Tree)
	helpers.Register("hang", helperproc.Hang)
	helpers.Register("flood", helperproc.Flood)
	helpers.Register("serve", helperproc.Serve)
	toolboxtest.Main(m, &helpers, Main)
}

// helpers is this package's registry, filled by TestMain.
var helpers helperproc.Registry

// runCLI runs bgtask with args in-process and returns what it printed.
func runCLI(t *testing.T, a *toolbox.App, args ...string) (stdout, stderr string, code toolbox.ExitCode) {
	t.Helper()
	var out, errOut bytes.Buffer
	a.Stdout, a.Stderr = &out, &errOut
	code = Run(context.Background(), a, "bgtask", args)
	return out.String(), errOut.String(), code
}
