// Package toolboxtest helps the tests of packages built on toolbox (the
// MCP server, the installer) run the real program: an App on a temporary
// state folder whose tasks are ended when the test ends, and a TestMain
// that lets the test binary serve as bgtask, as a toolbox entry and as a
// task's supervisor, as os/exec's tests re-run their own binary.
package toolboxtest

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// MainAsEnv names the variable that makes the test binary run as the
// program under the name it holds (bgtask, bg-run, ...).
const MainAsEnv = "BGTEST_MAIN_AS"

// Main is a TestMain: the test binary runs a task's supervisor when
// started with supervisor.SuperviseArg, the program (with extra
// commands) when MainAsEnv is set, and otherwise hands the run to
// helpers (nil for a package without helper processes), which plays a
// helper or runs the tests.
func Main(m *testing.M, helpers *helperproc.Registry, extra ...cli.Command) {
	if len(os.Args) > 1 && os.Args[1] == supervisor.SuperviseArg {
		os.Exit(int(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)))
	}
	if name := os.Getenv(MainAsEnv); name != "" {
		_ = os.Unsetenv(MainAsEnv) // Not for the tasks it starts.
		os.Exit(int(cli.Main(append([]string{name}, os.Args[1:]...), os.Stdin, os.Stdout, os.Stderr, extra...)))
	}
	if helpers == nil {
		helpers = &helperproc.Registry{}
	}
	helpers.Main(m)
}

// NewApp returns an App whose state folder and working folder are
// temporary, whose environment is this process's plus env (see
// tasktest.Environ), whose supervisor is the test binary (see Main), and
// whose tasks are all ended by the test's cleanup.
func NewApp(t *testing.T, env ...string) *toolbox.App {
	t.Helper()
	a := toolbox.NewAppIn(t.TempDir(), t.TempDir(), tasktest.Environ(env...), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	a.Executable = os.Args[0]
	t.Cleanup(func() { tasktest.EndAll(t, a.Store) })
	return a
}
