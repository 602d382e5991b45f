package procs

import (
	"context"
	"os/user"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v3/process"
)

// Listener is a TCP socket listening on a port and, as far as this user
// may see, the process that holds it. Another user's process shows only
// its user (the socket table names the socket's owner for everyone); its
// pid, command and folder stay hidden unless we are root.
type Listener struct {
	Addr string // "127.0.0.1:3000", "[::]:3000"
	Port int
	UID  int
	User string // the uid's name, or the number when it has none
	// Proc is the holding process; zero when it is not visible to us.
	Proc    Proc
	Command string // its command line, arguments joined by spaces
	Cwd     string // its working folder, when visible
	// Marker is the BG_TASK_ID in the holder's environment: set when the
	// holder belongs to one of our tasks (readable for our own processes).
	Marker string
}

// Visible reports whether the holding process could be seen.
func (l Listener) Visible() bool { return l.Proc.PID != 0 }

// ListenersOn returns the TCP sockets listening on port (IPv4 and IPv6,
// any address) with their holders: one Listener per holding process, or
// one with no process when none is visible. Processes that share one
// socket (forked workers) each get theirs. It reads the socket table; it
// never connects to the port, so a server holding it sees nothing.
//
// A holder without a marker of its own (a program that cleared its
// environment) gets the marker of its nearest ancestor that has one: it
// still belongs to that task's tree.
func ListenersOn(ctx context.Context, port int) ([]Listener, error) {
	ls, err := listenersOn(ctx, port)
	if err != nil {
		return nil, err
	}
	for i, l := range ls {
		if l.Marker == "" && l.Visible() {
			ls[i].Marker = ancestorMarker(ctx, l.Proc.PID)
		}
	}
	return ls, nil
}

// ancestorMarker is the marker of pid's nearest ancestor that carries
// one: a walk up the parent links, not a read of the whole table (a
// lookup then costs a few reads, not one per process).
func ancestorMarker(ctx context.Context, pid int) string {
	r, err := newStatReader()
	if err != nil {
		return ""
	}
	for range 64 { // A parent chain is short; a loop in a racing table is not followed.
		st, err := r.read(ctx, pid)
		if err != nil || st.ppid <= 1 {
			return ""
		}
		pid = st.ppid
		gp := &process.Process{Pid: int32(pid)}
		if env, err := gp.EnvironWithContext(ctx); err == nil {
			if m := markerValue(env); m != "" {
				return m
			}
		}
	}
	return ""
}

// userName is uid's login name, or the number when it has none.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// maxCommand bounds a holder's command line: it is shown, not run.
const maxCommand = 300

func joinCommand(args []string) string {
	s := strings.Join(args, " ")
	if len(s) > maxCommand {
		s = s[:maxCommand] + "..."
	}
	return s
}
