// Package toolboxtest helps the tests of packages built on toolbox (the
// MCP server, the installer) run the real program: an App on a temporary
// state folder whose tasks are ended when the test ends, and a TestMain
// that lets the test binary serve as bgtask, as a toolbox entry and as a
// task's supervisor, as os/exec's tests re-run their own binary.
package toolboxtest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// MainAsEnv names the variable that makes the test binary run as the
// program under the name it holds (bgtask, bg-run, ...).
const MainAsEnv = "BGTEST_MAIN_AS"

// Main is a TestMain: the test binary runs a task's supervisor when
// started with supervisor.SuperviseArg, the program (with extra
// commands) when MainAsEnv is set, and the tests otherwise.
func Main(m *testing.M, extra ...toolbox.Command) {
	if len(os.Args) > 1 && os.Args[1] == supervisor.SuperviseArg {
		os.Exit(int(toolbox.Main(os.Args, os.Stdin, os.Stdout, os.Stderr)))
	}
	if name := os.Getenv(MainAsEnv); name != "" {
		_ = os.Unsetenv(MainAsEnv) // Not for the tasks it starts.
		os.Exit(int(toolbox.Main(append([]string{name}, os.Args[1:]...), os.Stdin, os.Stdout, os.Stderr, extra...)))
	}
	os.Exit(m.Run())
}

// NewApp returns an App whose state folder and working folder are
// temporary, whose environment is this process's plus env, whose
// supervisor is the test binary (see Main), and whose tasks are all
// ended by the test's cleanup.
func NewApp(t *testing.T, env ...string) *toolbox.App {
	t.Helper()
	// A loaded box is slow: give notification hooks time, kills less.
	environ := append(os.Environ(), "BG_KILL_GRACE=1", "BG_NOTIFY_TIMEOUT=30")
	environ = append(environ, env...)
	var stdout, stderr bytes.Buffer
	a := &toolbox.App{
		Store:  supervisor.Store{Dir: t.TempDir()},
		Getenv: toolbox.EnvGetter(environ), Environ: environ,
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Executable: os.Args[0], Wd: t.TempDir(), Now: time.Now,
	}
	t.Cleanup(func() { EndAllTasks(t, a) })
	return a
}

// EndAllTasks kills what a's tasks left running: every supervisor and
// every process carrying a task's marker.
func EndAllTasks(t *testing.T, a *toolbox.App) {
	tasks, _ := a.Store.List()
	for _, task := range tasks {
		_ = procs.Signal(task.Watchdog, syscall.SIGKILL) // Best effort: usually gone.
		if _, err := procs.KillTree(context.Background(), procs.Target{Root: task.Root, Marker: task.ID, Grace: 100 * time.Millisecond}); err != nil {
			t.Errorf("cleanup %s: %v", task.ID, err)
		}
	}
}

// MarkerProcs lists the live processes carrying task id's marker.
func MarkerProcs(t *testing.T, id string) []procs.Proc {
	t.Helper()
	tab, err := procs.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tab.Marked()[id]
}

// ReadFile returns the content of path, failing the test when it cannot.
func ReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// SnapshotDir lists every path under dir with its mode and size: equal
// snapshots mean nothing was created, removed or grown.
func SnapshotDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b.WriteString(p + " " + fi.Mode().String() + " " + strconv.FormatInt(fi.Size(), 10) + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// DevServerCommand stands in for the commands users run (npm run dev,
// pnpm dev, tail -f ...), which do not exist here: a dev server's kind of
// output on both streams, errors included, then a wait to be stopped.
const DevServerCommand = `printf '%s\n' 'ready - started server on http://localhost:3000' 'GET / 200 in 12ms' 'HMR update src/App.tsx' ` +
	`'GET /static/app.css 304' 'TypeError: Cannot read properties of undefined' 'FAIL src/app.test.ts' 'Error: Cannot find module ./missing'; ` +
	`echo 'warn: deprecated option' >&2; exec sleep 600`
