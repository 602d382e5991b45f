package toolbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Services: a project's stack file (see package stack) declares its
// services once; bg_run service=NAME and bgtask up start them in order,
// each dependency waited for by its condition, each through the
// supervisor as an ordinary task labelled with the service's name.

// ServiceState is one service a start (or stop) touched.
type ServiceState struct {
	Service string `json:"service"`
	TaskID  string `json:"task_id,omitempty"`
	// Label is the task's label: the service's name.
	Label  string `json:"label"`
	Status string `json:"status"` // a task status, or "not_started"
	Ready  bool   `json:"ready"`
	// AlreadyRunning: it was running before this call, which did not
	// start it again.
	AlreadyRunning bool `json:"already_running,omitempty"`
	// Port is the PORT a Procfile entry gets.
	Port     int    `json:"port,omitempty"`
	Restarts int    `json:"restarts,omitempty"`
	Note     string `json:"note,omitempty"` // why it is not ready, or not started
	// Stdout and Stderr hold the start-up output of one that failed.
	Stdout *string `json:"stdout,omitempty"`
	Stderr *string `json:"stderr,omitempty"`
}

// StatusNotStarted is a service left unstarted because what it waits
// for failed.
const StatusNotStarted = "not_started"

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

// DefaultServiceWaitSeconds bounds a service start's waits when the call
// gives no wait_seconds.
const DefaultServiceWaitSeconds = 60

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
	switch {
	case needHealthy:
		ready, why, t = a.probeReady(ctx, t, v, deadline)
	case servesPort(v) && !already:
		// A Procfile entry that serves its $PORT: ready once a process
		// of it listens there; or, as any entry, once it has run a
		// moment without failing (a slow server, a command that only
		// prints its PORT), then said not to listen yet.
		var listening bool
		listening, t = a.portListening(ctx, t, v.Port, settleUntil(deadline))
		ready = t.Status == supervisor.StatusRunning || t.Status == supervisor.StatusCompleted
		if ready && !listening && t.Status == supervisor.StatusRunning {
			why = fmt.Sprintf("running, but not listening on its PORT %d yet", v.Port)
		}
	default:
		if !already {
			// No probe: ready once it has run a moment without ending
			// in failure. A crash at start (a config missing) is then a
			// failure with its output, not "ready".
			t = a.waitEnded(ctx, t, settleUntil(deadline))
		}
		if cur, err := a.LoadTask(ctx, t.ID); err == nil {
			t = cur
		}
		ready = t.Status == supervisor.StatusRunning || t.Status == supervisor.StatusCompleted
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

// stopStack stops the running services named (none: all the stack
// declares), dependents before what they depend on, and returns each
// one's state in the order stopped.
func (a *App) stopStack(ctx context.Context, st *stack.Stack, names []string) ([]ServiceState, error) {
	var plan []*stack.Service
	if len(names) == 0 {
		plan = st.Services
		// Dependencies first, as a start would have them; reversed below.
		if p, err := st.Plan(st.Names()...); err == nil {
			plan = p
		}
	} else {
		for _, n := range names {
			v := st.Service(n)
			if v == nil {
				return nil, &InputError{Param: "service", Msg: (&stack.UnknownError{File: st.File, Name: n, Known: st.Names()}).Error()}
			}
			plan = append(plan, v)
		}
		// Their order in a start: dependents last.
		full, _ := st.Plan(st.Names()...)
		slices.SortStableFunc(plan, func(x, y *stack.Service) int {
			return slices.Index(full, x) - slices.Index(full, y)
		})
	}
	settings, err := a.Settings()
	if err != nil {
		return nil, err
	}
	var out []ServiceState
	var errs []error
	for _, v := range slices.Backward(plan) {
		s := ServiceState{Service: v.Name, Label: v.Name, Status: "not running"}
		if t := a.runningWithLabel(ctx, v.Name, v.Dir); t != nil {
			noteEndedByCaller(ctx, t.ID)
			stopped, err := a.Store.Stop(ctx, t, settings.KillGrace)
			if err != nil {
				errs = append(errs, err)
			}
			s.TaskID, s.Status, s.Restarts = stopped.ID, stopped.Status, stopped.Restarts
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// runServiceCall is bg_run with service: the service and what it
// depends on, from the project's stack file.
func (a *App) runServiceCall(ctx context.Context, in RunInput) (RunResult, error) {
	if err := checkServiceInput(in); err != nil {
		return RunResult{}, err
	}
	cwd, err := a.resolveCwd(in.Cwd)
	if err != nil {
		return RunResult{}, err
	}
	st, err := a.loadStack(ctx, cwd)
	if err != nil {
		return RunResult{}, &InputError{Param: "service", Msg: err.Error()}
	}
	wait := float64(DefaultServiceWaitSeconds)
	if in.WaitSeconds != nil {
		wait = *in.WaitSeconds
	}
	clock := newWaitClock(ctx, wait) // The call's own limit (MCP) bounds it too.
	states, err := a.startStack(ctx, stackStart{stack: st, names: []string{in.Service}, wait: time.Until(clock.deadline),
		timeout: supervisor.Minutes(in.Timeout), notify: in.Notify})
	if err != nil {
		return RunResult{}, err
	}
	return a.serviceRunResult(in, st, states), nil
}

// checkServiceInput refuses the parameters of bg_run that a service
// start does not take: the stack file says them.
func checkServiceInput(in RunInput) error {
	switch {
	case in.Command != "":
		return &InputError{Param: "service", Msg: "give command or service, not both"}
	case in.Restart != supervisor.RestartNo || in.MaxRestarts != 0:
		return &InputError{Param: "restart", Msg: "a service's restarts come from its availability in the stack file"}
	case in.Label != "" || in.Replace || in.Interactive || in.WaitFor != "" || in.WaitPort != 0 || in.WaitURL != "":
		return &InputError{Param: "service", Msg: "label, replace, interactive and wait_for/wait_port/wait_url do not apply: the label is the service's name, and its readiness_probe is the wait"}
	}
	return nil
}

// serviceRunResult is bg_run's answer to a start of in.Service from
// stack st: that service's task, the state of every service the start
// touched, and a message that sums them up.
func (a *App) serviceRunResult(in RunInput, st *stack.Stack, states []ServiceState) RunResult {
	res := RunResult{StackFile: st.File, Services: states}
	for _, n := range st.Ignored {
		res.Ignored = append(res.Ignored, n.String())
	}
	var started, already, failed []string
	withOutput := false // a service not ready brought its start-up output
	for _, s := range states {
		switch {
		case s.AlreadyRunning:
			already = append(already, s.Service)
		case s.TaskID != "":
			started = append(started, s.Service)
		}
		if !s.Ready {
			failed = append(failed, fmt.Sprintf("%s (%s)", s.Service, s.Note))
			withOutput = withOutput || s.Stdout != nil || s.Stderr != nil
		}
		if s.Service != in.Service {
			continue
		}
		res.TaskID, res.Label, res.Status = s.TaskID, s.Label, s.Status
		res.WaitResult = &WaitResult{Ready: s.Ready}
		if t, err := a.Store.Load(s.TaskID); err == nil {
			// The task's own timeout: one already running kept the one
			// it was started with, whatever this call asked.
			res.PID, res.Cwd, res.Command, res.TimeoutMinutes = t.Root.PID, t.Cwd, t.Command, t.Timeout.Minutes()
		}
	}
	var msg []string
	if len(started) > 0 {
		msg = append(msg, "Started "+strings.Join(started, ", ")+".")
	}
	if len(already) > 0 {
		msg = append(msg, "Already running, not started again: "+strings.Join(already, ", ")+".")
	}
	if len(failed) == 0 {
		msg = append(msg, fmt.Sprintf("%s is ready. Read its output with bg_output task_id=%s.", in.Service, res.TaskID))
	} else {
		msg = append(msg, "Not ready: "+strings.Join(failed, "; ")+".")
		if withOutput {
			msg = append(msg, "The start-up output of each that ran follows in services.")
		}
	}
	if len(res.Ignored) > 0 {
		msg = append(msg, fmt.Sprintf("%d key(s) of %s are not supported and were ignored (see ignored).", len(res.Ignored), filepath.Base(st.File)))
	}
	res.Message = strings.Join(msg, " ")
	return res
}

// UpOptions configure App.Up.
type UpOptions struct {
	// Names are the services to start, with what they depend on; none:
	// every service not disabled.
	Names       []string
	WaitSeconds float64
	Timeout     time.Duration
	// OnDone is called as each service is settled (ready, failed or not
	// started), from the service's own goroutine.
	OnDone func(ServiceState)
}

// Up starts the services of the project dir is in (see startStack) and
// returns its stack and every service's state, in start order.
func (a *App) Up(ctx context.Context, dir string, o UpOptions) (*stack.Stack, []ServiceState, error) {
	st, err := a.loadStack(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	states, err := a.startStack(ctx, stackStart{stack: st, names: o.Names, wait: time.Duration(o.WaitSeconds * float64(time.Second)),
		timeout: o.Timeout, onDone: o.OnDone})
	return st, states, err
}

// Down stops the running services of the project dir is in (the names,
// or all), dependents first.
func (a *App) Down(ctx context.Context, dir string, names []string) (*stack.Stack, []ServiceState, error) {
	st, err := a.loadStack(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	states, err := a.stopStack(ctx, st, names)
	return st, states, err
}

// RunningWithLabel returns the running task started with label in cwd,
// nil for none.
func (a *App) RunningWithLabel(ctx context.Context, label, cwd string) *supervisor.Task {
	return a.runningWithLabel(ctx, label, cwd)
}

// GroupByStack orders tasks so that the services of one stack file come
// together, after the tasks of none, each group in the list's order.
func GroupByStack(tasks []TaskSummary) []TaskSummary {
	var out []TaskSummary
	var stacks []string
	for _, t := range tasks {
		if t.Stack == "" {
			out = append(out, t)
		} else if !slices.Contains(stacks, t.Stack) {
			stacks = append(stacks, t.Stack)
		}
	}
	for _, st := range stacks {
		for _, t := range tasks {
			if t.Stack == st {
				out = append(out, t)
			}
		}
	}
	return out
}

// servicePort is a port a service is to serve on this machine, and what
// says so.
type servicePort struct {
	what string
	port int
}

// servesPort reports whether v is a Procfile entry whose command line
// uses the PORT it is given ($PORT, ${PORT}): it is to serve it.
func servesPort(v *stack.Service) bool {
	return v.Port > 0 && (strings.Contains(v.Command, "$PORT") || strings.Contains(v.Command, "${PORT"))
}

// servicePorts are the ports of this machine v is to serve: its http_get
// readiness probe's, when local, and a Procfile entry's PORT when its
// command line uses it ($PORT). (A PORT only offered is not checked: a
// worker given one it never binds must not be refused for it.)
func servicePorts(v *stack.Service) []servicePort {
	var out []servicePort
	if v.Probe != nil && v.Probe.HTTP != nil {
		if p := localPort(v.Probe.HTTP.URL()); p != 0 {
			out = append(out, servicePort{"readiness_probe of " + v.Name, p})
		}
	}
	// A Procfile entry's PORT, when its command uses it: taken by another
	// program, the entry would crash at start, or worse, seem to serve.
	if servesPort(v) && !slices.ContainsFunc(out, func(p servicePort) bool { return p.port == v.Port }) {
		out = append(out, servicePort{"PORT of " + v.Name, v.Port})
	}
	return out
}
