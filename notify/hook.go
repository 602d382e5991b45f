package notify

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hookWaitDelay bounds how long the hook's output pipe may stay open after
// its process group is gone, held by a process that left the group (setsid).
const hookWaitDelay = time.Second

// runHook runs command with /bin/sh -c (as system(3) does, whatever PATH
// says) in a process group of its own, and kills the whole group when the
// shell exits or when ctx is done, whichever comes first. Killing after a normal exit too is what makes "a hook leaves
// nothing behind" hold, and it keeps Wait from hanging on a background
// child that still holds the output pipe.
func runHook(ctx context.Context, command string, env []string) error {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = env
	out := &tailBuffer{max: 512}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = hookWaitDelay
	newProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}

	exited, wait := watchExit(cmd)
	var late error
	select {
	case <-exited:
	case <-ctx.Done():
		late = context.Cause(ctx)
	}
	// Best effort: the group may already be empty, and a failure to signal
	// it is not something the caller could act on.
	_ = killProcessGroup(cmd.Process.Pid)
	err := wait()
	switch {
	case late != nil:
		return fmt.Errorf("killed: %w%s", late, out.suffix())
	case err != nil:
		return fmt.Errorf("%w%s", err, out.suffix())
	}
	return nil
}

// hookEnv is env with the event's fields appended; appended values win
// over inherited ones (os/exec keeps the last of duplicate keys).
func hookEnv(env []string, ev Event, title, body string) []string {
	code := ""
	if ev.ExitCode != nil {
		code = strconv.Itoa(*ev.ExitCode)
	}
	vars := [][2]string{
		{"BG_TASK_ID", ev.TaskID},
		{"BG_TASK_LABEL", ev.Label},
		{"BG_TASK_STATUS", ev.Status},
		{"BG_TASK_EXIT_CODE", code},
		{"BG_TASK_LAST_LINE", ev.LastLine},
		{"BG_TASK_COMMAND", ev.Command},
		{"BG_NOTIFY_TITLE", title},
		{"BG_NOTIFY_BODY", body},
	}
	out := make([]string, 0, len(env)+len(vars))
	out = append(out, env...)
	for _, kv := range vars {
		// A NUL cannot be passed in an environment variable: exec would
		// refuse to start the hook at all.
		out = append(out, kv[0]+"="+strings.ReplaceAll(kv[1], "\x00", ""))
	}
	return out
}

// tailBuffer keeps the last max bytes written to it: enough of a failing
// hook's output to say why in the task's log, without holding a chatty
// hook's whole output.
type tailBuffer struct {
	mu  sync.Mutex // Stdout and Stderr share it.
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// suffix is ": <last output>" for an error message, or "" when the hook
// printed nothing.
func (t *tailBuffer) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(strings.ToValidUTF8(string(t.buf), "\uFFFD"))
	if s == "" {
		return ""
	}
	return ": " + strconv.Quote(s)
}
