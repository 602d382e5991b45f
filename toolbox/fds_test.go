package toolbox

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// A caller that reads bg-run's output through a pipe it also left open in
// bg-run (without close-on-exec, as shells and agents do) sees end of
// file when bg-run exits, not when the task ends: the detached supervisor
// keeps none of its caller's descriptors.
func TestSupervisorKeepsNoInheritedDescriptors(t *testing.T) {
	a := newTestApp(t)
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append([]string{}, a.Environ...), "BGTEST_MAIN_AS=bg-run", "TOOLBOX_ACTION=execute", "TASKS_DIR="+a.Store.Dir)
	cmd.Stdin = strings.NewReader(`{"command":` + jsonString(helpers.Shell("hang")) + `,"timeout":5}`)
	// fds 3 to 6 in bg-run: the pipe lands on 6, past the supervisor's own readiness pipe on 3.
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd.ExtraFiles = []*os.File{null, null, null, wr}
	out, err := cmd.Output()
	_ = wr.Close() // Ours: now only what bg-run left behind holds the pipe open.
	if err != nil {
		t.Fatalf("bg-run: %v: %s", err, out)
	}
	var r RunResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bg-run printed %q: %v", out, err)
	}
	eof := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, rd); eof <- err }()
	select {
	case err := <-eof:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the caller's pipe is still open 20 s after bg-run exited: the supervisor kept it")
	}
	task, err := a.Store.Load(r.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if !procs.Alive(context.Background(), task.Watchdog) || !procs.Alive(context.Background(), task.Root) {
		t.Fatal("the task ended: end of file proves nothing")
	}
}
