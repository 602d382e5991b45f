package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/callserver"
	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The test binary also serves as bgtask (with install and doctor), as
// the toolbox entries and as a task's supervisor: see toolboxtest.Main.
func TestMain(m *testing.M) {
	helpers.Register("amp-at-probe", ampAtProbe)
	helpers.Register("call-server", callServer)
	toolboxtest.Main(m, &helpers, cli.Main, Commands()...)
}

// helpers is this package's registry of helper processes.
var helpers helperproc.Registry

// ampAtProbe plays an Amp without the toolbox answering `amp tools
// --help`, and first copies the install record as it is on disk then
// (or "none") to $PROBE_COPY.
func ampAtProbe([]string) int {
	record := filepath.Join(os.Getenv("HOME"), ".config", "amp-bg-tasks", "install.json")
	b, err := os.ReadFile(record)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = []byte("none"), nil
	}
	if err == nil {
		err = os.WriteFile(os.Getenv("PROBE_COPY"), b, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "amp-at-probe:", err)
		return 2
	}
	fmt.Println("Usage: amp tools [command]\n\nCommands:\n  list    list the tools")
	return 0
}

// callServer runs a call server of this program (whatever file it runs
// from) until SIGTERM; it answers no call.
func callServer([]string) int {
	exe, err := os.Executable()
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := callserver.Serve(ctx, exe, callserver.Options{Handle: func(context.Context, callserver.Call) int { return 1 }}); err != nil {
		fmt.Fprintln(os.Stderr, "call-server:", err)
		return 2
	}
	return 0
}

// jsonText is v as JSON text.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // Only maps and strings built by the tests.
	}
	return string(b)
}

// newApp is toolboxtest.NewApp.
func newApp(t *testing.T, env ...string) *toolbox.App {
	t.Helper()
	return toolboxtest.NewApp(t, env...)
}

// runCLI runs the command line `bgtask args...` in a, with this
// package's commands.
func runCLI(ctx context.Context, a *toolbox.App, args []string) toolbox.ExitCode {
	return cli.Run(ctx, a, "bgtask", args, Commands()...)
}
