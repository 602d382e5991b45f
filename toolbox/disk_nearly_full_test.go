package toolbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// On a nearly full disk (under the 64 KB that counts as full, but room
// for an outcome), a supervisor killing a tree whose leaf ignores SIGTERM
// is in its grace period, not waiting for space: bg_stop waits for it,
// and it records "killed". Before, bg_stop saw the command gone and the
// disk full, killed the tree itself and answered "outcome not recorded".
func TestStopOnANearlyFullDiskWaitsForTheGracePeriod(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "BG_KILL_GRACE=4")
	mountTmpfs(t, a)
	r := startTask(t, a, map[string]any{"command": helpers.Shell("tree", "stubborn"), "timeout": 0, "wait_for": "^leaf "})
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	fillDisk(t, filepath.Join(a.Store.Dir, "filler"), 40<<10)

	res, err := a.Call(t.Context(), StopTool(), []byte(fmt.Sprintf(`{"task_id":%q}`, r.TaskID)))
	if err != nil {
		t.Fatalf("bg_stop on a nearly full disk: %v", err)
	}
	if stop := res.(StopResult); stop.Status != supervisor.StatusKilled || strings.Contains(stop.Message, "not recorded") {
		t.Fatalf("bg_stop answered %+v; want killed, recorded by the supervisor", stop)
	}
	if left := tasktest.MarkerProcs(t, task.ID); len(left) != 0 {
		t.Fatalf("still alive: %v", left)
	}
}

// fillDisk fills the file system holding path with the file path until
// only free bytes are left.
func fillDisk(t *testing.T, path string, free int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // Written or failed below already.
	var n int64
	for err == nil {
		var w int
		w, err = f.Write(make([]byte, 4<<10))
		n += int64(w)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v", err)
	}
	if err := f.Truncate(max(n-free, 0)); err != nil {
		t.Fatal(err)
	}
}
