// Package toolboxtest helps the tests of packages built on toolbox (the
// people's command line, the MCP server, top, the installer) run the real
// program: an App on a temporary state folder whose tasks are ended when
// the test ends, typed calls of its tools, and a TestMain that lets the
// test binary serve as bgtask, as a toolbox entry and as a task's
// supervisor, as os/exec's tests re-run their own binary. It does not
// import the command line (package cli), whose own tests use it: a
// package hands Main its program's entry instead.
package toolboxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// MainAsEnv names the variable that makes the test binary run as the
// program under the name it holds (bgtask, bg-run, ...): see tasktest.Main.
const MainAsEnv = tasktest.MainAsEnv

// Main is a TestMain (see tasktest.Main): the test binary runs a task's
// supervisor when started with supervisor.SuperviseArg, the program
// (main, cli.Main, with extra commands) when MainAsEnv is set, and
// otherwise hands the run to helpers (nil for a package without helper
// processes), which plays a helper or runs the tests.
func Main[C any](m *testing.M, helpers *helperproc.Registry, main func(args []string, stdin io.Reader, stdout, stderr io.Writer, extra ...C) toolbox.ExitCode, extra ...C) {
	tasktest.Main(m, helpers, func(args []string) int {
		return int(main(args, os.Stdin, os.Stdout, os.Stderr, extra...))
	})
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

// Call runs tool in a with params given as JSON, typed as the command
// line calls it (toolbox.Invoke), and fails the test on error.
func Call[T any](t testing.TB, a *toolbox.App, tool *toolbox.Tool, params string) T {
	t.Helper()
	var p map[string]any
	err := json.Unmarshal([]byte(params), &p)
	var v T
	if err == nil {
		v, err = toolbox.Invoke[T](context.Background(), a, tool, p)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", tool.Name, params, err)
	}
	return v
}

// StartTask runs bg_run in a with params and fails the test on error.
func StartTask(t testing.TB, a *toolbox.App, params map[string]any) toolbox.RunResult {
	t.Helper()
	r, err := toolbox.Invoke[toolbox.RunResult](context.Background(), a, toolbox.RunTool(), params)
	if err != nil {
		raw, _ := json.Marshal(params)
		t.Fatalf("bg_run %s: %v", raw, err)
	}
	return r
}
