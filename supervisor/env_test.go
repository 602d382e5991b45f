package supervisor

import (
	"slices"
	"strings"
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

func TestValidID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{
		"task-1795463206-7fbbf9c9": true, "task-1234567-890": true,
		"../../etc": false, "/tmp/x": false, "task-1-": false, "task-1-a/b": false, "task-1-A": false, "": false,
		"task--a": false, "task-1-a-b": false, "task-x-1": false, "xtask-1-a": false, "task-123456789012345678901-a": false,
		"task-1-" + strings.Repeat("a", 32): true, "task-1-" + strings.Repeat("a", 33): false, "task-1-a\n": false,
	} {
		if err := ValidID(id); (err == nil) != ok {
			t.Errorf("ValidID(%q) = %v", id, err)
		}
	}
}
