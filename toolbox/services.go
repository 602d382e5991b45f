package toolbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

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

// DefaultServiceWaitSeconds bounds a service start's waits when the call
// gives no wait_seconds.
const DefaultServiceWaitSeconds = 60

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
