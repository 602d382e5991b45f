package toolbox

import (
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

func TestAutoKillCountdown(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		deadline time.Time
		timeout  time.Duration
		want     string
	}{
		{time.Time{}, 0, "no timeout"},
		{now.Add(95 * time.Minute), 2 * time.Hour, "95m left"},
		{now.Add(120 * time.Minute), 2 * time.Hour, "120m left"},
		{now.Add(26*time.Hour + 5*time.Minute), 48 * time.Hour, "26h05m left"},
		{now.Add(30 * 24 * time.Hour), 30 * 24 * time.Hour, "30d left"},
		{now.Add(52*time.Hour + 10*time.Minute), 30 * 24 * time.Hour, "2d4h left"},
		{now.Add(10 * time.Minute), 2 * time.Hour, "10m left"},
		{now.Add(4*time.Minute + 20*time.Second), 2 * time.Hour, "EXPIRING in 4m"},
		{now.Add(30 * time.Second), 2 * time.Hour, "EXPIRING in 30s"},
		// A short timeout warns in its last quarter only, not from its start.
		{now.Add(9*time.Minute + 32*time.Second), 10 * time.Minute, "10m left"},
		{now.Add(2 * time.Minute), 10 * time.Minute, "EXPIRING in 2m"},
		{now, time.Hour, "OVERDUE"},
		{now.Add(-time.Hour), time.Hour, "OVERDUE"},
	} {
		if got := autoKill(tc.deadline, now, tc.timeout); got != tc.want {
			t.Errorf("autoKill(now%+v) = %q, want %q", tc.deadline.Sub(now), got, tc.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 45 * time.Second: "45s", 12 * time.Minute: "12m",
		3*time.Hour + 5*time.Minute: "3h05m", 52 * time.Hour: "2d4h",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestStatusDetailAndCleanup(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	done := startTask(t, a, map[string]any{"command": "printf 'a\\nb\\n'; printf 'oops? ' >&2; exit 2", "label": "two-lines"})
	tasktest.WaitEnd(t, a.Store, done.TaskID)
	running := startTask(t, a, map[string]any{"command": helpers.Shell("hang"), "timeout": 30})

	d := call[TaskDetail](t, a, StatusTool(), `{"task_id":"`+done.TaskID+`"}`)
	if d.Status != supervisor.StatusFailed || d.ExitCode == nil || *d.ExitCode != 2 || d.StdoutLines != 2 || d.StderrLines != 1 ||
		d.StdoutBytes != 4 || d.FinishedAt == "" || d.Label != "two-lines" || d.AutoKill != "finished" { // A last line without newline (a prompt) counts, as bg_output counts it.
		t.Errorf("detail of finished task: %+v", d)
	}
	r := call[TaskDetail](t, a, StatusTool(), `{"task_id":"`+running.TaskID+`"}`)
	if r.Status != supervisor.StatusRunning || r.ExitCode != nil || r.AutoKill != "30m left" && r.AutoKill != "29m left" {
		t.Errorf("detail of running task: %+v", r)
	}
	l := call[StatusList](t, a, StatusTool(), `{}`)
	if l.Summary.Total != 2 || l.Summary.Running != 1 {
		t.Errorf("summary %+v", l.Summary)
	}
	c := call[CleanupResult](t, a, StopTool(), `{"action":"cleanup"}`)
	if c.Action != "cleanup" || c.Cleaned != 1 {
		t.Errorf("cleanup answered %+v, want 1 finished task removed", c)
	}
	l = call[StatusList](t, a, StatusTool(), `{}`)
	if l.Summary.Total != 1 || l.Tasks[0].TaskID != running.TaskID {
		t.Errorf("after cleanup: %+v", l)
	}
}
