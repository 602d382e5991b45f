package toolbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
)

// bg_output asked all along while a task is run again (bgtask restart
// moves its folder aside while the new run starts) never fails, and a
// reader's since-reads, stitched together, hold every run's output once.
func TestOutputDuringRestarts(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := startTask(t, a, map[string]any{"command": "echo run-$(cat /proc/sys/kernel/random/uuid | cut -c1-8)"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	stop := make(chan struct{})
	type answer struct {
		text string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		var b strings.Builder
		for {
			select {
			case <-stop:
				res, err := a.Call(context.Background(), OutputTool(), []byte(fmt.Sprintf(`{"task_id":%q,"stream":"stdout","since":true}`, r.TaskID)))
				if err == nil {
					b.WriteString(*res.(OutputResult).Stdout)
				}
				got <- answer{b.String(), err}
				return
			default:
			}
			res, err := a.Call(context.Background(), OutputTool(), []byte(fmt.Sprintf(`{"task_id":%q,"stream":"stdout","since":true}`, r.TaskID)))
			if err != nil {
				got <- answer{b.String(), err}
				return
			}
			if s := res.(OutputResult).Stdout; s != nil {
				b.WriteString(*s + "\n")
			}
		}
	}()
	const restarts = 15
	for i := range restarts {
		if _, _, err := a.Restart(t.Context(), r.TaskID); err != nil {
			close(stop)
			ents, _ := os.ReadDir(filepath.Join(a.Store.Dir, r.TaskID))
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("restart %d: %v; its folder holds %v", i+1, err, names)
		}
		tasktest.WaitEnd(t, a.Store, r.TaskID)
	}
	close(stop)
	ans := <-got
	if ans.err != nil {
		t.Fatalf("bg_output during the restarts: %v", ans.err)
	}
	if n := strings.Count(ans.text, "run-"); n != restarts+1 {
		t.Errorf("the since-reads hold %d runs' lines, want %d:\n%s", n, restarts+1, ans.text)
	}
}
