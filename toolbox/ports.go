package toolbox

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Ports have owners. Before a task is started to serve a port, and when
// an agent asks who holds one, the socket table says which process holds
// it and the holder's task marker says whether it is one of our tasks.
// Agents that find a port taken otherwise free it the blunt way (`pkill -f
// node`, `kill $(lsof -ti :3000)`), taking down a sibling project's
// server: a foreign holder is named, never signalled.

// PortHolder is who listens on a port: one of our tasks (TaskID set) or
// a process that is not ours. Of another user's process only the user
// may be visible.
type PortHolder struct {
	Port      int      `json:"port"`
	Addresses []string `json:"addresses"` // "127.0.0.1:3000", "[::]:3000"
	Ours      bool     `json:"ours"`
	TaskID    string   `json:"task_id,omitempty"`
	Label     string   `json:"label,omitempty"`
	Host      string   `json:"host,omitempty"` // where the task runs, when not here
	Status    string   `json:"status,omitempty"`
	PID       int      `json:"pid,omitempty"`     // the holding process, when visible
	Command   string   `json:"command,omitempty"` // its command line (ours: the task's command)
	Cwd       string   `json:"cwd,omitempty"`
	User      string   `json:"user,omitempty"`
}

// describe is the holder in one clause, for messages.
func (h PortHolder) describe() string {
	if h.Ours {
		return fmt.Sprintf("our task %q (%s, pid %d, in %s)", h.Label, h.TaskID, h.PID, h.Cwd)
	}
	if h.PID == 0 {
		return fmt.Sprintf("a process of user %s (its pid is not visible to you)", h.User)
	}
	var what []string
	if h.Command != "" {
		what = append(what, printable(h.Command))
	}
	if h.Cwd != "" {
		what = append(what, "in "+printable(h.Cwd))
	}
	if h.User != "" {
		what = append(what, "user "+h.User)
	}
	return fmt.Sprintf("pid %d (%s), not one of our tasks", h.PID, strings.Join(what, ", "))
}

// PortHolders returns who listens on port on this machine, one entry per
// task of ours or per foreign process, ours first.
func (a *App) PortHolders(ctx context.Context, port int) ([]PortHolder, error) {
	ls, err := procs.ListenersOn(ctx, port)
	if err != nil {
		return nil, err
	}
	var out []PortHolder
	add := func(key func(PortHolder) bool, h PortHolder, addr string) {
		if i := slices.IndexFunc(out, key); i >= 0 {
			if !slices.Contains(out[i].Addresses, addr) {
				out[i].Addresses = append(out[i].Addresses, addr)
			}
			return
		}
		h.Addresses = []string{addr}
		out = append(out, h)
	}
	for _, l := range ls {
		if t := a.taskOf(l.Marker); t != nil {
			h := PortHolder{Port: port, Ours: true, TaskID: t.ID, Label: t.Label, Status: t.Status,
				PID: l.Proc.PID, Command: t.Command, Cwd: t.Cwd, User: l.User}
			add(func(o PortHolder) bool { return o.TaskID == t.ID }, h, l.Addr)
			continue
		}
		h := PortHolder{Port: port, PID: l.Proc.PID, Command: l.Command, Cwd: l.Cwd, User: l.User}
		add(func(o PortHolder) bool { return !o.Ours && o.PID == h.PID && (h.PID != 0 || o.User == h.User) }, h, l.Addr)
	}
	slices.SortStableFunc(out, func(x, y PortHolder) int {
		if x.Ours != y.Ours {
			if x.Ours {
				return -1
			}
			return 1
		}
		return x.PID - y.PID
	})
	return out, nil
}

// taskOf is the task of this state folder that marker names, or nil.
func (a *App) taskOf(marker string) *supervisor.Task {
	if marker == "" || taskid.ValidID(marker) != nil {
		return nil
	}
	t, err := a.Store.Load(marker)
	if err != nil {
		return nil
	}
	return t
}

// PortInUseError refuses to start a task on a port that is already
// accepting connections, naming who holds it.
type PortInUseError struct {
	Param   string // the parameter that named the port: wait_port, wait_url, or a service's probe
	Port    int
	Holders []PortHolder
	// Service is the project's service that asked for the port, "" for
	// bg_run's command: label and replace do not apply to a service.
	Service string
}

func (e *PortInUseError) Error() string {
	var who []string
	for _, h := range e.Holders {
		who = append(who, h.describe())
	}
	msg := fmt.Sprintf("port %d is already accepting connections, held by %s; nothing was started", e.Port, strings.Join(who, " and "))
	if i := slices.IndexFunc(e.Holders, func(h PortHolder) bool { return h.Ours }); i >= 0 {
		h := e.Holders[i]
		if e.Service != "" {
			msg += fmt.Sprintf(". It is ours: use it (bg_output task_id=%s), or stop it (bg_stop task_id=%s) and ask for %s again", h.TaskID, h.TaskID, e.Service)
		} else {
			msg += fmt.Sprintf(". It is ours: use it (bg_output task_id=%s), or run this in its place with label=%q cwd=%q replace=true (which stops it first), or stop it (bg_stop task_id=%s)", h.TaskID, h.Label, h.Cwd, h.TaskID)
		}
	} else {
		msg += ". bgtask never signals a process it did not start: stop it yourself if it is yours, or use another port (bgtask port " + fmt.Sprint(e.Port) + " names the holder)"
	}
	if e.Param != "" {
		return e.Param + ": " + msg
	}
	return msg
}

// CheckPortFree returns a *PortInUseError when port is already accepting
// connections on this machine. A holder that is our running task of the
// same label in the same folder is left to the duplicate check, which
// refuses it or, with replace=true, stops it first. param names what
// asked for the port in the message (wait_port, wait_url, a service's
// probe). Services call it before starting a command that will serve
// port.
func (a *App) CheckPortFree(ctx context.Context, param string, port int, label, cwd string) error {
	if port <= 0 {
		return nil
	}
	hs, err := a.PortHolders(ctx, port)
	if err != nil || len(hs) == 0 {
		return nil // The table cannot be read: the wait finds out, as before.
	}
	sameTask := func(h PortHolder) bool {
		return h.Ours && label != "" && h.Label == label && h.Cwd == cwd && h.Status == supervisor.StatusRunning
	}
	if !slices.ContainsFunc(hs, func(h PortHolder) bool { return !sameTask(h) }) {
		return nil
	}
	return &PortInUseError{Param: param, Port: port, Holders: hs}
}

// portStatus is bg_status with port.
func portStatus(ctx context.Context, a *App, port int) (PortStatus, error) {
	hs, err := a.PortHolders(ctx, port)
	if err != nil {
		return PortStatus{}, fmt.Errorf("who holds port %d: %w", port, err)
	}
	res := PortStatus{Port: port, Holders: hs}
	if res.Holders == nil {
		res.Holders = []PortHolder{}
	}
	switch {
	case len(hs) == 0:
		res.Message = fmt.Sprintf("Nothing listens on port %d here.", port)
	default:
		var who []string
		for _, h := range hs {
			who = append(who, h.describe())
		}
		res.Message = fmt.Sprintf("Port %d is held by %s.", port, strings.Join(who, " and "))
		if !hs[0].Ours {
			res.Message += " Never stop another program's server to free its port: use another port, or ask the user."
		}
	}
	return res, nil
}
