package supervisor

import (
	"slices"
	"testing"
)

func TestCommandEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"A=1"}, []string{"A=1", "TERM=xterm-256color", "BG_TASK_ID=task-1-a"}},
		{[]string{"TERM=dumb", "BG_TASK_ID=task-0-outer"}, []string{"TERM=dumb", "BG_TASK_ID=task-1-a"}},
		{[]string{"TOOLBOX_ACTION=execute", "A=1", "AMP_THREAD_ID=T-1", "AGENT_THREAD_ID=T-1", "AMP_CURRENT_THREAD_ID=T-1", "TOOLBOX_ACTIONS=x", "TERM=dumb"},
			[]string{"A=1", "TOOLBOX_ACTIONS=x", "TERM=dumb", "BG_TASK_ID=task-1-a"}},
	} {
		if got := commandEnv(tc.in, "task-1-a"); !slices.Equal(got, tc.want) {
			t.Errorf("commandEnv(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
