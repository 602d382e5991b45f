// Package tasktest helps tests that start real tasks: a TestMain that lets
// the test binary serve as a task's supervisor and as the program (Main),
// the settings a loaded test box needs, a command that stands in for a dev
// server, waiting for a task's end, ending whatever a test's tasks left
// running, finding a task's processes by its marker, and reading the files
// they leave. It sits below toolbox, so toolbox's own tests and the tests
// of the packages built on it (through toolboxtest) share it.
package tasktest

import (
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
)

// Environ is this process's environment with settings for a loaded box
// (notification hooks get time, kills wait less), then env.
func Environ(env ...string) []string {
	environ := append(os.Environ(), "BG_KILL_GRACE=1", "BG_NOTIFY_TIMEOUT=30")
	return append(environ, env...)
}

// EndAll kills what the tasks of store left running: every supervisor
// and every process carrying a task's marker.
func EndAll(t testing.TB, store supervisor.Store) {
	t.Helper()
	tasks, _ := store.List() // Best effort: an unreadable folder holds nothing to end.
	for _, task := range tasks {
		_ = procs.Signal(task.Watchdog, syscall.SIGKILL) // Best effort: usually gone.
		if _, err := procs.KillTree(context.Background(), procs.Target{Root: task.Root, Marker: task.ID, Grace: 100 * time.Millisecond}); err != nil {
			t.Errorf("cleanup %s: %v", task.ID, err)
		}
	}
}

// MarkerProcs lists the live processes carrying task id's marker.
func MarkerProcs(t testing.TB, id string) []procs.Proc {
	t.Helper()
	tab, err := procs.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tab.Marked()[id]
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

// ReadFile returns the content of path, failing the test when it cannot.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
