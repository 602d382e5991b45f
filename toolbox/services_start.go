package toolbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Starting a project's services: each once what it depends on got where
// its condition wants it, in parallel where the file allows, each then
// waited for until ready (its probe, its $PORT, or a moment's settle).

// serviceSettle is how long a service without a readiness probe runs
// before it counts as ready: long enough for a crash at start-up to
// show, short enough not to slow a stack's start much (its services
// settle in parallel).
const serviceSettle = 1500 * time.Millisecond

// settleUntil is when a service just started has settled (serviceSettle
// from now), or deadline if that comes first.
func settleUntil(deadline time.Time) time.Time {
	until := time.Now().Add(serviceSettle)
	if until.After(deadline) {
		return deadline
	}
	return until
}

// stackStart is what a start of services needs.
type stackStart struct {
	stack *stack.Stack
	names []string // none: every service not disabled
	// wait bounds every wait (readiness, completion) of the start.
	wait    time.Duration
	timeout time.Duration
	notify  string
	// onDone, if set, is called as each service is settled (ready,
	// failed or not started), from the service's own goroutine.
	onDone func(ServiceState)
}

// startStack starts the services named (and what they depend on), each
// once its dependencies meet their conditions, in parallel where the
// file allows. A service already running (its label in its folder) is
// reported, not started twice: the check and the start hold the label's
// lock, so two agents asking at once start one. It returns each
// service's state in start order.
func (a *App) startStack(ctx context.Context, o stackStart) ([]ServiceState, error) {
	plan, err := o.stack.Plan(o.names...)
	if err != nil {
		return nil, &InputError{Param: "service", Msg: err.Error()}
	}
	settings, err := a.Settings()
	if err != nil {
		return nil, err
	}
	targets := o.names
	if len(targets) == 0 {
		targets = o.stack.Names()
	}
	plan = a.skipNeedsOfRunning(ctx, plan, targets)
	needHealthy, needDone := map[string]bool{}, map[string]bool{}
	for _, v := range plan {
		if slices.Contains(targets, v.Name) && v.Probe != nil {
			needHealthy[v.Name] = true
		}
		for _, d := range v.DependsOn {
			needHealthy[d.Name] = needHealthy[d.Name] || d.Condition == stack.Healthy
			needDone[d.Name] = needDone[d.Name] || d.Condition == stack.CompletedSuccessfully
		}
	}
	deadline := time.Now().Add(o.wait)
	nodes := map[string]*serviceRun{}
	for _, v := range plan {
		nodes[v.Name] = &serviceRun{svc: v, started: make(chan struct{}), healthy: make(chan struct{}), done: make(chan struct{})}
	}
	var wg sync.WaitGroup
	for _, v := range plan {
		n := nodes[v.Name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.startNode(ctx, n, nodes, o, settings, deadline, needHealthy[v.Name], needDone[v.Name])
			if o.onDone != nil {
				o.onDone(n.state)
			}
		}()
	}
	wg.Wait()
	out := make([]ServiceState, len(plan))
	for i, v := range plan {
		out[i] = nodes[v.Name].state
	}
	return out, nil
}

// skipNeedsOfRunning drops from plan what only targets already running
// need. A service that runs is reported, not started again, and what it
// depends on was met when it started: "make sure the worker is up" must
// not run the migrations it waited for once more. What a target that is
// not running needs stays, whatever else runs. (Whether a target runs is
// asked again under its label's lock when it is started.)
func (a *App) skipNeedsOfRunning(ctx context.Context, plan []*stack.Service, targets []string) []*stack.Service {
	up := map[string]bool{}
	byName := map[string]*stack.Service{}
	for _, v := range plan {
		byName[v.Name] = v
		if slices.Contains(targets, v.Name) && a.runningWithLabel(ctx, v.Name, v.Dir) != nil {
			up[v.Name] = true
		}
	}
	if len(up) == 0 {
		return plan
	}
	needed := map[string]bool{}
	var need func(v *stack.Service)
	need = func(v *stack.Service) {
		if v == nil || needed[v.Name] {
			return
		}
		needed[v.Name] = true
		if up[v.Name] {
			return
		}
		for _, d := range v.DependsOn {
			need(byName[d.Name])
		}
	}
	for _, n := range targets {
		need(byName[n])
	}
	var out []*stack.Service
	for _, v := range plan {
		switch {
		case up[v.Name]:
			alone := *v
			alone.DependsOn = nil // Met already: nothing to wait for.
			out = append(out, &alone)
		case needed[v.Name]:
			out = append(out, v)
		}
	}
	return out
}

// serviceRun is one service of a start: its state and, closed once
// known, whether it started, became healthy and completed successfully.
type serviceRun struct {
	svc                    *stack.Service
	state                  ServiceState
	task                   *supervisor.Task
	started, healthy, done chan struct{}
	okStarted, okHealthy   bool
	okDone                 bool
	whyNotHealthy          string
}

// settle closes whatever channel is still open, as failed.
func (n *serviceRun) settle() {
	for _, c := range []chan struct{}{n.started, n.healthy, n.done} {
		select {
		case <-c:
		default:
			close(c)
		}
	}
}

func (a *App) startNode(ctx context.Context, n *serviceRun, nodes map[string]*serviceRun, o stackStart, settings Settings, deadline time.Time, needHealthy, needDone bool) {
	defer n.settle()
	v := n.svc
	n.state = ServiceState{Service: v.Name, Label: v.Name, Status: StatusNotStarted, Port: v.Port}
	if !n.waitDependencies(ctx, nodes) {
		return
	}
	t, already, err := a.startService(ctx, o, v, settings)
	if err != nil {
		n.state.Note = "could not start: " + err.Error()
		return
	}
	n.task, n.okStarted = t, true
	n.state.TaskID, n.state.Status, n.state.AlreadyRunning = t.ID, t.Status, already
	close(n.started)
	ready, why := true, ""
	if needHealthy {
		ready, why, t = a.probeReady(ctx, t, v, deadline)
	} else {
		// No probe: ready once it has run a moment without ending in
		// failure. A crash at start (a config missing) is then a failure
		// with its output, not "ready". A Procfile entry that serves its
		// $PORT is ready sooner, once a process of it listens there; one
		// that does not yet by then (a slow server, a command that only
		// prints its PORT) is said not to listen yet.
		listening := true
		switch {
		case already:
			if cur, err := a.LoadTask(ctx, t.ID); err == nil {
				t = cur
			}
		case servesPort(v):
			listening, t = a.portListening(ctx, t, v.Port, settleUntil(deadline))
		default:
			t = a.waitEnded(ctx, t, settleUntil(deadline))
		}
		ready = t.Status == supervisor.StatusRunning || t.Status == supervisor.StatusCompleted
		if !listening && t.Status == supervisor.StatusRunning {
			why = fmt.Sprintf("running, but not listening on its PORT %d yet", v.Port)
		}
	}
	n.okHealthy, n.whyNotHealthy = ready, why
	close(n.healthy)
	if needDone {
		t = a.waitEnded(ctx, t, deadline)
		n.okDone = t.Status == supervisor.StatusCompleted
		if !n.okDone && t.Status == supervisor.StatusRunning {
			why = fmt.Sprintf("still running after %s; its dependents wait for it to complete", o.wait)
		}
		ready = n.okDone
	}
	close(n.done)
	n.task = t
	n.state.Status, n.state.Ready, n.state.Restarts, n.state.Note = t.Status, ready, t.Restarts, why
	if !ready {
		a.noteNotReady(n, t)
	}
}

// waitDependencies waits until each service n depends on has got where
// n's condition wants it. It reports false, with the reason in n's note,
// when one did not get there or ctx ended.
func (n *serviceRun) waitDependencies(ctx context.Context, nodes map[string]*serviceRun) bool {
	for _, d := range n.svc.DependsOn {
		dep := nodes[d.Name]
		var ch chan struct{}
		var ok *bool
		switch d.Condition {
		case stack.Healthy:
			ch, ok = dep.healthy, &dep.okHealthy
		case stack.CompletedSuccessfully:
			ch, ok = dep.done, &dep.okDone
		default:
			ch, ok = dep.started, &dep.okStarted
		}
		select {
		case <-ctx.Done():
			n.state.Note = "cancelled"
			return false
		case <-ch:
		}
		if !*ok {
			n.state.Note = fmt.Sprintf("not started: it waits for %s (%s), which did not get there", d.Name, d.Condition)
			return false
		}
	}
	return true
}

// noteNotReady completes the state of n, whose task t is not ready: why,
// when nothing said so yet, and the output that tells (a digest of a
// task that ended, the tail of one still running).
func (a *App) noteNotReady(n *serviceRun, t *supervisor.Task) {
	if n.state.Note == "" && t.Status != supervisor.StatusRunning {
		n.state.Note = "ended: " + endedWords(t)
	}
	if t.Status != supervisor.StatusRunning {
		n.state.Stdout, n.state.Stderr = a.outputOf(t, capture.ReadOptions{Clean: capture.Options{Digest: true, MaxLines: 40, Cwd: t.Cwd}})
	} else {
		n.state.Stdout, n.state.Stderr = a.outputOf(t, capture.ReadOptions{Tail: 10, Clean: capture.Options{Cwd: t.Cwd}})
	}
}

// endedWords is "failed, exit 1".
func endedWords(t *supervisor.Task) string {
	if t.ExitCode != nil {
		return fmt.Sprintf("%s, exit %d", t.Status, *t.ExitCode)
	}
	return t.Status
}

// startService starts v unless it runs already (its label in its folder),
// holding the label's lock across the check and the start.
func (a *App) startService(ctx context.Context, o stackStart, v *stack.Service, settings Settings) (*supervisor.Task, bool, error) {
	if fi, err := os.Stat(v.Dir); err != nil || !fi.IsDir() {
		return nil, false, fmt.Errorf("its working_dir %s is not an existing folder", v.Dir)
	}
	unlock, err := a.Store.LockLabel(v.Name, samePlace(v.Dir))
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if old := a.runningWithLabel(ctx, v.Name, v.Dir); old != nil {
		return old, true, nil
	}
	// The port its readiness probe asks, when something else serves it
	// already, is refused, naming the holder: the probe would take that
	// server for this one, or the service crash on it.
	for _, p := range servicePorts(v) {
		if err := a.CheckPortFree(ctx, p.what, p.port, v.Name, v.Dir); err != nil {
			if pe := (*PortInUseError)(nil); errors.As(err, &pe) {
				pe.Service = v.Name
			}
			return nil, false, err
		}
	}
	env := append(slices.Clone(a.Environ), v.Env...)
	t, err := a.Store.Start(ctx, supervisor.Request{
		Command: v.Command, Label: v.Name, Cwd: v.Dir,
		Timeout: o.timeout, Notify: o.notify, Log: settings.Log,
		Executable: a.supervisorExecutable(), Env: env, Stack: o.stack.File,
		Restart: supervisor.RestartPolicy{Policy: v.Restart.Policy, Max: v.Restart.MaxRestarts, Backoff: v.Restart.Backoff},
	})
	return t, false, err
}
