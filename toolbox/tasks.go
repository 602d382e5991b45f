package toolbox

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
)

// Tasks is one place tasks run: this machine (localTasks) or another
// host over ssh (sshTasks). The tools are made of these operations and
// never ask where a task runs: each tool's handler asks App.tasksAt or
// App.tasksOf for the Tasks of its typed input (a host, a task id) and
// calls it; a list or a cleanup of everything asks every place with
// eachHost.
//
// Each result says where it came from itself (see remoteAnswer): a
// transport fills that in, the tools do not.
//
// To add a transport (containers, say): write a type with these methods
// that reaches tasks there, give it the hosts (or names) it serves in
// tasksAt and the record that routes a task id to it in tasksOf, and
// make its answers carry their place through remoteAnswer. No tool
// changes, and no switch on tool names: TestRoutingNamesNoTool fails on
// one.
type Tasks interface {
	// Start starts a task (bg_run).
	Start(ctx context.Context, in RunInput) (RunResult, error)
	// Status is one task's detail (bg_status with task_id).
	Status(ctx context.Context, in StatusInput) (TaskDetail, error)
	// List lists the tasks there that this machine started (bg_status
	// without task_id; here: every task).
	List(ctx context.Context, in StatusInput) (StatusList, error)
	// Read reads a task's output (bg_output).
	Read(ctx context.Context, in OutputInput) (OutputResult, error)
	// Stop stops a task and its processes (bg_stop).
	Stop(ctx context.Context, in StopInput) (StopResult, error)
	// Cleanup removes a finished task, or without a task id every
	// finished task there that this machine started (bg_stop's cleanup).
	Cleanup(ctx context.Context, in StopInput) (CleanupResult, error)
	// Send types into an interactive task (bg_send).
	Send(ctx context.Context, in SendInput) (SendResult, error)
	// Restart stops a task and runs its command again in its place
	// (bgtask restart); restarts counts the restarts, this one included.
	Restart(ctx context.Context, id string) (r RunResult, restarts int, err error)
}

// tasksAt returns the Tasks of host: this machine's for "". A host that
// is not a valid ssh destination is an input error on param (the
// parameter that named it).
func (a *App) tasksAt(host, param string) (Tasks, error) {
	host = strings.TrimSpace(host)
	if host == "" {
		return localTasks{a}, nil
	}
	if err := remote.CheckHost(host); err != nil {
		return nil, &InputError{Param: param, Msg: err.Error()}
	}
	return sshTasks{a: a, host: host}, nil
}

// tasksOf returns the Tasks where task id runs: its host's, when a
// record here says it was started on one, else this machine's.
func (a *App) tasksOf(id string) Tasks {
	if rec, ok := remote.RecordsIn(a.Store.Dir).Get(id); ok {
		return sshTasks{a: a, host: rec.Host, rec: rec}
	}
	return localTasks{a}
}

// hostOf is the host a call with input in goes to ("" for here), for
// the looks beside it that may leave that host out: its host parameter,
// else the host of its task.
func (a *App) hostOf(in Input) string {
	if h, _ := in.vals["host"].(string); strings.TrimSpace(h) != "" {
		return strings.TrimSpace(h)
	}
	if id, _ := in.vals["task_id"].(string); id != "" {
		if rec, ok := remote.RecordsIn(a.Store.Dir).Get(id); ok {
			return rec.Host
		}
	}
	return ""
}

// eachHost calls f for every host at once, all bounded by one timeout,
// and returns f's results in the order of hosts. f shares nothing with
// the other calls: what it finds, it returns.
func eachHost[R any](ctx context.Context, hosts []string, timeout time.Duration, f func(ctx context.Context, host string) R) []R {
	out := make([]R, len(hosts))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { out[i] = f(ctx, h) })
	}
	wg.Wait()
	return out
}

// paramsOf turns t's typed input back into its parameters, for the
// tool on another host: every field by its param tag, but host (the call
// is there already) and those that stand for an absent parameter: a nil
// pointer, an empty string, a zero that the parameter's bounds refuse
// (wait_port). A zero the parameter takes (timeout 0) is sent: it may
// differ from the default.
func paramsOf(t *Tool, in any) map[string]any {
	v := reflect.ValueOf(in)
	out := map[string]any{}
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("param")
		j := slices.IndexFunc(t.Params, func(p Param) bool { return p.Name == name })
		if j < 0 || name == "host" {
			continue
		}
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Pointer:
			if !f.IsNil() {
				out[name] = f.Elem().Interface()
			}
		case f.IsZero() && f.Kind() == reflect.String:
		case f.IsZero() && t.Params[j].Min != nil && *t.Params[j].Min > 0:
		default:
			out[name] = f.Interface()
		}
	}
	return out
}

// noticesKey carries a call's noticeSink.
type noticesKey struct{}

// noticeSink gathers the notices that other hosts' answers carried
// during one call (see Execute); the hosts asked at once write to it.
type noticeSink struct {
	mu      sync.Mutex
	notices []Notice
}

// withNoticeSink returns ctx with a new sink, and the sink.
func withNoticeSink(ctx context.Context) (context.Context, *noticeSink) {
	s := &noticeSink{}
	return context.WithValue(ctx, noticesKey{}, s), s
}

// noteNotices adds notices to the call's sink, if it has one.
func noteNotices(ctx context.Context, notices []Notice) {
	s, _ := ctx.Value(noticesKey{}).(*noticeSink)
	if s == nil || len(notices) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notices = append(s.notices, notices...)
}

// all returns the notices gathered so far.
func (s *noticeSink) all() []Notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notice(nil), s.notices...)
}
