package toolbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Parallel bg-run processes starting one label in one cwd: exactly one
// task runs, with replace=true too (each replaces the last; one is left).
func TestParallelStartsOfOneLabel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 20 parallel starts (15 s)")
	}
	t.Parallel()
	for _, replace := range []bool{false, true} {
		t.Run(fmt.Sprintf("replace=%v", replace), func(t *testing.T) {
			a := newTestApp(t)
			cwd := t.TempDir()
			params := fmt.Sprintf(`{"command":%s,"label":"dup","cwd":%q,"timeout":5,"replace":%v}`, jsonString(helpers.Shell("hang")), cwd, replace)
			const n = 10
			var wg sync.WaitGroup
			outs := make([]string, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cmd := exec.Command(os.Args[0])
					cmd.Env = append(append([]string{}, a.Environ...), "BGTEST_MAIN_AS=bg-run", "TOOLBOX_ACTION=execute", "TASKS_DIR="+a.Store.Dir)
					cmd.Stdin = strings.NewReader(params)
					out, err := cmd.Output()
					outs[i], errs[i] = string(out), err
				}()
			}
			wg.Wait()
			tasks, err := a.Store.List()
			if err != nil {
				t.Fatal(err)
			}
			var running []string
			for _, task := range tasks {
				if task.Status == supervisor.StatusRunning {
					running = append(running, task.ID)
				}
			}
			if len(running) != 1 {
				t.Fatalf("%d of %d parallel starts of one label run: %v", len(running), n, running)
			}
			ok := 0
			for i := range n {
				switch {
				case errs[i] == nil:
					ok++
				case replace || !strings.Contains(outs[i], "already running as"):
					t.Errorf("start %d: %v: %s", i, errs[i], outs[i])
				}
			}
			if want := map[bool]int{false: 1, true: n}[replace]; ok != want {
				t.Errorf("%d starts answered success, want %d", ok, want)
			}
		})
	}
}

// One folder reached by two paths (a symbolic link: a symlinked home,
// macOS's /tmp) is one place: the second start of a label there is a
// duplicate too.
func TestDuplicateLabelThroughASymlinkedFolder(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "project")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	first := startTask(t, a, map[string]any{"command": "exec sleep 60", "label": "dev", "cwd": real})
	defer call[StopResult](t, a, StopTool(), fmt.Sprintf(`{"task_id":%q}`, first.TaskID))
	_, err := a.Call(t.Context(), RunTool(), []byte(fmt.Sprintf(`{"command":"exec sleep 60","label":"dev","cwd":%q}`, link)))
	var taken *LabelTakenError
	if !errors.As(err, &taken) || !strings.Contains(err.Error(), first.TaskID) {
		t.Fatalf("second start through %s: %v; want a duplicate naming %s", link, err, first.TaskID)
	}
}
