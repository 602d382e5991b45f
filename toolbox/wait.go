package toolbox

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
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

// CallLimit is how a front end bounds the waits of one tool call and hears
// how they go. It travels in the call's context (WithCallLimit): the MCP
// server sets it, since MCP clients give up on a call after 30 s to 120 s
// unless told it progresses; the toolbox entries, which Amp lets run as
// long as they need, set none, and a wait then takes its whole
// wait_seconds in silence.
type CallLimit struct {
	// Until ends every wait of the call at this time, however long
	// wait_seconds asks. The answer then holds what was found so far, a
	// message saying how to go on waiting, and wait_left. Zero: only
	// wait_seconds bounds a wait.
	Until time.Time
	// Progress, when set, is called every ProgressEvery while the call
	// waits, with the time waited so far and the time the wait may take.
	Progress func(waited, total time.Duration)
}

// CallBound is how long the MCP server lets a tool call take when the
// client asked for no progress notifications: a wait still going on then
// answers with what holds so far and how to go on waiting (wait_left).
// Clients give up on a call after 30 s (some Codex versions), 60 s (the
// TypeScript SDK's default) or more, and without progress notifications
// nothing tells them that it is alive.
const CallBound = 25 * time.Second

// mcpWaitNote tells an agent, in the wait_seconds descriptions, what
// CallBound does to a long wait.
func mcpWaitNote() string {
	return fmt.Sprintf("Over MCP, a call whose client asks for no progress notifications answers within %g s: a wait still going on then returns wait_left and the call that goes on waiting.", CallBound.Seconds())
}

// ProgressEvery is how often a waiting call reports progress: well under
// the 30 s after which the most impatient clients give up.
const ProgressEvery = 5 * time.Second

type callLimitKey struct{}

// WithCallLimit returns ctx carrying l for the tool call it is made for.
func WithCallLimit(ctx context.Context, l CallLimit) context.Context {
	return context.WithValue(ctx, callLimitKey{}, l)
}

// waitClock times one wait of wait_seconds: its deadline (the call's
// limit when that comes first) and the progress reports due on the way.
type waitClock struct {
	start    time.Time
	asked    time.Duration
	deadline time.Time
	limited  bool // the call's limit comes before the time asked for
	progress func(waited, total time.Duration)
	next     time.Time // the next progress report
}

func newWaitClock(ctx context.Context, seconds float64) *waitClock {
	l, _ := ctx.Value(callLimitKey{}).(CallLimit)
	c := &waitClock{start: time.Now(), asked: time.Duration(seconds * float64(time.Second)), progress: l.Progress}
	c.deadline, c.next = c.start.Add(c.asked), c.start.Add(ProgressEvery)
	if !l.Until.IsZero() && l.Until.Before(c.deadline) {
		c.deadline, c.limited = l.Until, true
	}
	return c
}

// over reports whether the wait's time is up.
func (c *waitClock) over() bool { return !time.Now().Before(c.deadline) }

// cut reports whether the wait ended at the call's limit, before the time
// asked for: the answer must say how to go on waiting.
func (c *waitClock) cut() bool { return c.limited && c.over() }

// left is what is left of the time asked for, in whole seconds.
func (c *waitClock) left() float64 {
	return max(math.Ceil((c.asked - time.Since(c.start)).Seconds()), 1)
}

// sleep waits d, cut to the deadline and to the next progress report,
// which it then sends. It returns false when ctx ends first.
func (c *waitClock) sleep(ctx context.Context, d time.Duration) bool {
	d = min(d, time.Until(c.deadline))
	if c.progress != nil {
		d = min(d, time.Until(c.next))
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(max(d, 0)):
	}
	if c.progress != nil && !time.Now().Before(c.next) {
		c.progress(time.Since(c.start), c.asked)
		c.next = time.Now().Add(ProgressEvery)
	}
	return true
}

// WaitResult says how a bg_run wait ended; absent when nothing was awaited.
type WaitResult struct {
	Ready      bool   `json:"ready"`
	Matched    string `json:"matched,omitempty"`     // the wait_for line
	Port       int    `json:"port,omitempty"`        // the wait_port found listening
	HTTPStatus int    `json:"http_status,omitempty"` // wait_url's answer
	TimedOut   bool   `json:"timed_out,omitempty"`
	// WaitLeft is set when the wait stopped at the call's time limit
	// (CallLimit) before wait_seconds: the seconds of it that are left,
	// for the call the message names.
	WaitLeft float64 `json:"wait_left,omitempty"`
}

// waitSpec is what a bg_run call waits for.
type waitSpec struct {
	pattern string // wait_for
	port    int    // wait_port
	url     string // wait_url
	// urlHere is wait_url's port when its host is this machine (see
	// localPort), else 0: found once, not on every poll.
	urlHere int
	seconds float64
}

// more names the call that goes on with w for task id, for left seconds:
// the same condition, through the tools that wait on a started task.
func (w waitSpec) more(id string, left float64) string {
	switch {
	case w.pattern != "":
		return fmt.Sprintf("bg_output task_id=%s filter=%q wait_seconds=%g", id, w.pattern, left)
	case w.port != 0 || w.url != "":
		return fmt.Sprintf("bg_output task_id=%s wait_seconds=%g for its next lines, and bg_status task_id=%s, whose listening shows its ports", id, left, id)
	}
	return fmt.Sprintf("bg_status task_id=%s wait_seconds=%g (then bg_output task_id=%s view=digest for its output)", id, left, id)
}

// waitMore says that a wait stopped at the call's time limit and how to go
// on.
func waitMore(call string) string {
	return "This call's time limit ended the wait early (wait_left seconds of it are left): to go on waiting, call " + call + "."
}

// ports guesses the ports a run meant to serve: wait_port, wait_url's
// port, and the numbers its command mentions that can be ports.
func (w waitSpec) ports(command string) []int {
	var out []int
	if w.port != 0 {
		out = append(out, w.port)
	}
	if u, err := url.Parse(w.url); err == nil && u.Port() != "" {
		if p, err := strconv.Atoi(u.Port()); err == nil {
			out = append(out, p)
		}
	}
	for _, f := range strings.FieldsFunc(command, func(r rune) bool { return r < '0' || r > '9' }) {
		if p, err := strconv.Atoi(f); err == nil && len(f) >= 2 && p > 0 && p < 65536 {
			out = append(out, p)
		}
	}
	return out
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
	if w.url != "" {
		w.urlHere = localPort(w.url)
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
// outcome (WaitLeft set when the call's limit ended it) and the task as
// last seen.
func (a *App) waitRun(ctx context.Context, t *supervisor.Task, w waitSpec) (*WaitResult, *supervisor.Task) {
	res := &WaitResult{}
	reader := "wait-" + randomHex()
	defer RemoveCursors(t.Dir, reader)
	clock := newWaitClock(ctx, w.seconds)
	for n := 0; ; n++ {
		if w.pattern != "" {
			if line := firstMatch(t.Dir, reader, w.pattern, t.Cwd); line != "" {
				res.Ready, res.Matched = true, line
				return res, t
			}
		}
		if w.port != 0 && a.listensOn(ctx, t, w.port) {
			res.Ready, res.Port = true, w.port
			return res, t
		}
		if w.url != "" {
			// As for wait_port, a server of this machine counts only when
			// a process of the task listens on its port: not someone
			// else's server on that port.
			if code, ok := probeURL(ctx, w.url); ok && (w.urlHere == 0 || a.listensOn(ctx, t, w.urlHere)) {
				switch {
				case code > 0 && code < 500:
					res.Ready, res.HTTPStatus = true, code
					return res, t
				case strings.HasPrefix(w.url, "https://"):
					res.Ready, res.Port = true, urlPort(w.url) // Accepting; no status was seen.
					return res, t
				}
			}
		}
		if cur, err := a.LoadTask(ctx, t.ID); err == nil {
			t = cur
		}
		if t.Status != supervisor.StatusRunning {
			return res, t // Ended before it was ready (or, without a condition, what was awaited).
		}
		if clock.over() || !clock.sleep(ctx, pollInterval(n)) {
			res.TimedOut = true
			if clock.cut() {
				res.WaitLeft = clock.left()
			}
			return res, t
		}
	}
}

// firstMatch returns the first new line of either stream matching pattern
// for reader, "" when none.
func firstMatch(dir, reader, pattern, cwd string) string {
	// The filter brings a match's locations with it (the line before a
	// Python error, a failed test's header): the match is the line the
	// pattern finds, not the first line of the read.
	re, err := regexp.Compile("(?i)" + pattern)
	if err != nil {
		return ""
	}
	for _, stream := range []string{"stdout", "stderr"} {
		r, err := capture.Read(dir, stream, capture.ReadOptions{
			Since: true, Reader: reader,
			Clean: capture.Options{Filter: pattern, Cwd: cwd, MaxLines: capture.DefaultMaxLines},
		})
		if err != nil {
			continue
		}
		for _, l := range r.Lines {
			if !strings.HasPrefix(l, "[... ") && re.MatchString(l) {
				return l
			}
		}
	}
	return ""
}

// listensOn reports whether a process of t's tree listens on TCP port.
func (a *App) listensOn(ctx context.Context, t *supervisor.Task, port int) bool {
	tree, err := procs.TaskTree(ctx, t.Root, t.ID)
	if err != nil {
		return false
	}
	u, err := procs.TreeUsage(ctx, tree)
	return err == nil && containsInt(u.Ports, port)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// PrivateReader names a reader of its own (prefix-random) whose cursors
// move no one else's; unique enough, not secret. RemoveCursors deletes
// them when it is done.
func PrivateReader(prefix string) string { return prefix + "-" + randomHex() }

// randomHex names a private reader; unique enough, not secret.
func randomHex() string { return fmt.Sprintf("%012x", rand.Uint64()>>16) }

// RemoveCursors deletes a private reader's cursor files, best effort.
func RemoveCursors(dir, reader string) {
	for _, stream := range []string{"stdout", "stderr"} {
		_ = os.Remove(filepath.Join(dir, ".cursor_"+stream+"."+taskid.FileName(reader))) // Best effort.
	}
}
