package toolbox

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/pathlook"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Readiness: how a service start waits for a service to be ready (its
// readiness probe) or to end (a dependency on its completion).

// probeReady runs v's readiness probe on t until it succeeds, the task
// ends for good, or deadline passes. It returns why it is not ready (""
// when it is) and t as last seen. failure_threshold does not end the
// wait: a start waits for the first success, as dependents do in
// process-compose (the parser notes the key as not used).
func (a *App) probeReady(ctx context.Context, t *supervisor.Task, v *stack.Service, deadline time.Time) (bool, string, *supervisor.Task) {
	p := v.Probe
	if !sleepUntil(ctx, time.Now().Add(p.InitialDelay), deadline) {
		return false, fmt.Sprintf("not ready within the wait (initial_delay_seconds %g)", p.InitialDelay.Seconds()), t
	}
	tries := 0
	for {
		if cur, err := a.LoadTask(ctx, t.ID); err == nil {
			t = cur
		}
		if t.Status != supervisor.StatusRunning {
			return false, fmt.Sprintf("ended before it was ready (%s)", endedWords(t)), t
		}
		why := a.probeOnce(ctx, t, v)
		if why == "" {
			return true, "", t
		}
		tries++
		if !sleepUntil(ctx, time.Now().Add(p.Period), deadline) {
			return false, fmt.Sprintf("not ready within the wait: %d probes failed, the last: %s", tries, why), t
		}
	}
}

// probeOnce tries v's probe once on its task t: "" on success, else
// what failed. An http_get probe of this machine counts only when a
// process of t listens on the port, as wait_url: another program's
// server there (a service left running elsewhere) is not this one ready.
func (a *App) probeOnce(ctx context.Context, t *supervisor.Task, v *stack.Service) string {
	p := v.Probe
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	if p.HTTP != nil {
		url := p.HTTP.URL()
		code, accepting := probeURL(ctx, url)
		switch {
		case !accepting:
			return url + ": no connection"
		case localPort(url) != 0 && !a.listensOn(ctx, t, localPort(url)):
			return fmt.Sprintf("%s answers, but no process of %s listens on port %d (another program's?)", url, v.Name, localPort(url))
		case p.HTTP.Scheme == "https" && code == 0:
			return "" // Accepting; the lean build speaks no TLS (see probeURL).
		case code >= 200 && code < 400:
			return ""
		case code == 0:
			return url + ": no HTTP answer"
		}
		return fmt.Sprintf("%s: status %d", url, code)
	}
	cmd := exec.CommandContext(ctx, a.probeShell(), "-c", p.Exec)
	cmd.Dir, cmd.Env = v.Dir, append(slices.Clone(a.Environ), v.Env...)
	cmd.WaitDelay = time.Second // A grandchild holding nothing of ours is not waited for.
	err := cmd.Run()
	switch {
	case err == nil:
		return ""
	case ctx.Err() != nil:
		return fmt.Sprintf("%q took more than timeout_seconds %g", p.Exec, p.Timeout.Seconds())
	}
	return fmt.Sprintf("%q: %v", p.Exec, err)
}

// probeShell is bash, or sh where bash is missing, as for tasks: in the
// caller's PATH, which is not this process's in the call server.
func (a *App) probeShell() string {
	if p := pathlook.Find("bash", a.Getenv("PATH")); p != "" {
		return p
	}
	return "/bin/sh"
}

// portListening waits until a process of t listens on port, t ends, or
// until passes; it reports whether one listens, and t as last seen.
func (a *App) portListening(ctx context.Context, t *supervisor.Task, port int, until time.Time) (bool, *supervisor.Task) {
	for n, last := 0, false; ; n++ {
		if cur, err := a.LoadTask(ctx, t.ID); err == nil {
			t = cur
		}
		if t.Status != supervisor.StatusRunning {
			return false, t
		}
		if a.listensOn(ctx, t, port) {
			return true, t
		}
		if last {
			return false, t
		}
		last = !sleepUntil(ctx, time.Now().Add(pollInterval(n)), until) // Then one more look.
	}
}

// waitEnded waits until t ends or deadline passes; it returns t as last
// seen.
func (a *App) waitEnded(ctx context.Context, t *supervisor.Task, deadline time.Time) *supervisor.Task {
	for n, last := 0, false; ; n++ {
		if cur, err := a.LoadTask(ctx, t.ID); err == nil {
			t = cur
		}
		if t.Status != supervisor.StatusRunning || last {
			return t
		}
		// At the deadline, one more look: an end during the last sleep
		// is the answer, not "still running".
		last = !sleepUntil(ctx, time.Now().Add(pollInterval(n)), deadline)
	}
}

// sleepUntil sleeps until at, and reports false instead when at is past
// deadline (having slept until deadline) or ctx ends.
func sleepUntil(ctx context.Context, at, deadline time.Time) bool {
	late := at.After(deadline)
	if late {
		at = deadline
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(at)):
	}
	return !late
}
