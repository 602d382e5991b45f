package toolbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Waiting: bg_run, bg_output and bg_status can wait for what an agent
// would otherwise poll for with sleep loops. Waits poll at a short,
// growing interval (files and sockets give no portable way to be told);
// a condition that holds at once costs one check, no fixed delay.

const (
	// DefaultWaitSeconds is wait_seconds' default when a condition is given.
	DefaultWaitSeconds = 30
	// MaxWaitSeconds bounds every wait: an MCP client times a call out.
	MaxWaitSeconds = 600
)

// WaitResult says how a bg_run wait ended; absent when nothing was awaited.
type WaitResult struct {
	Ready      bool   `json:"ready"`
	Matched    string `json:"matched,omitempty"`     // the wait_for line
	Port       int    `json:"port,omitempty"`        // the wait_port found listening
	HTTPStatus int    `json:"http_status,omitempty"` // wait_url's answer
	TimedOut   bool   `json:"timed_out,omitempty"`
}

// waitSpec is what a bg_run call waits for.
type waitSpec struct {
	pattern string // wait_for
	port    int    // wait_port
	url     string // wait_url
	seconds float64
}

func (w waitSpec) any() bool { return w.pattern != "" || w.port != 0 || w.url != "" || w.seconds > 0 }

// hasCondition reports whether something other than the task's end is awaited.
func (w waitSpec) hasCondition() bool { return w.pattern != "" || w.port != 0 || w.url != "" }

func waitSpecFrom(in RunInput) (waitSpec, error) {
	w := waitSpec{
		pattern: in.WaitFor,
		port:    in.WaitPort,
		url:     strings.TrimSpace(in.WaitURL),
	}
	if in.WaitSeconds != nil {
		w.seconds = *in.WaitSeconds
	}
	if w.pattern != "" {
		// Validate it as the reader will use it, before starting anything.
		if _, err := capture.NewPipeline(capture.Options{Filter: w.pattern}); err != nil {
			return w, &InputError{Param: "wait_for", Msg: strings.TrimPrefix(err.Error(), "invalid filter ")}
		}
	}
	if w.url != "" && !strings.HasPrefix(w.url, "http://") && !strings.HasPrefix(w.url, "https://") {
		return w, &InputError{Param: "wait_url", Msg: fmt.Sprintf("must be an http:// or https:// URL, got %q", w.url)}
	}
	if w.hasCondition() && in.WaitSeconds == nil {
		w.seconds = DefaultWaitSeconds
	}
	return w, nil
}

// pollInterval grows from 20 ms to 250 ms: quick for what is quick, cheap
// for what takes long.
func pollInterval(n int) time.Duration {
	return min(time.Duration(20<<min(n, 4))*time.Millisecond, 250*time.Millisecond)
}

// waitRun waits for w on task t after its start. It returns the wait's
// outcome and the task as last seen.
func (a *App) waitRun(ctx context.Context, t *supervisor.Task, w waitSpec) (*WaitResult, *supervisor.Task) {
	res := &WaitResult{}
	reader := "wait-" + randomHex()
	defer removeCursors(t.Dir, reader)
	deadline := time.Now().Add(time.Duration(w.seconds * float64(time.Second)))
	for n := 0; ; n++ {
		if w.pattern != "" {
			if line := firstMatch(t.Dir, reader, w.pattern, t.Cwd); line != "" {
				res.Ready, res.Matched = true, line
				return res, t
			}
		}
		if w.port != 0 {
			if tree, err := procs.TaskTree(ctx, t.Root, t.ID); err == nil {
				if u, err := procs.TreeUsage(ctx, tree); err == nil && containsInt(u.Ports, w.port) {
					res.Ready, res.Port = true, w.port
					return res, t
				}
			}
		}
		if w.url != "" {
			if code := probeURL(ctx, w.url); code > 0 && code < 500 {
				res.Ready, res.HTTPStatus = true, code
				return res, t
			}
		}
		if cur, err := a.loadTask(ctx, t.ID); err == nil {
			t = cur
		}
		if t.Status != supervisor.StatusRunning {
			return res, t // Ended before it was ready (or, without a condition, what was awaited).
		}
		if !time.Now().Before(deadline) {
			res.TimedOut = true
			return res, t
		}
		select {
		case <-ctx.Done():
			res.TimedOut = true
			return res, t
		case <-time.After(min(pollInterval(n), time.Until(deadline))):
		}
	}
}

// firstMatch returns the first new line of either stream matching pattern
// for reader, "" when none.
func firstMatch(dir, reader, pattern, cwd string) string {
	for _, stream := range []string{"stdout", "stderr"} {
		r, err := capture.Read(dir, stream, capture.ReadOptions{
			Since: true, Reader: reader,
			Clean: capture.Options{Filter: pattern, Cwd: cwd, MaxLines: capture.DefaultMaxLines},
		})
		if err != nil {
			continue
		}
		for _, l := range r.Lines {
			if !strings.HasPrefix(l, "[... ") {
				return l
			}
		}
	}
	return ""
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// randomHex names a private reader; unique enough, not secret.
func randomHex() string { return fmt.Sprintf("%012x", rand.Uint64()>>16) }

// removeCursors deletes a private reader's cursor files, best effort.
func removeCursors(dir, reader string) {
	for _, stream := range []string{"stdout", "stderr"} {
		_ = os.Remove(filepath.Join(dir, ".cursor_"+stream+"."+capture.ReaderKey(reader))) // Best effort.
	}
}
