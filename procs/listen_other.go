//go:build !linux

package procs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	gnet "github.com/shirou/gopsutil/v3/net"
	"github.com/shirou/gopsutil/v3/process"
)

// listenersOn asks gopsutil (lsof on macOS) for the listening sockets.
func listenersOn(ctx context.Context, port int) ([]Listener, error) {
	conns, err := gnet.ConnectionsWithContext(ctx, "tcp")
	if err != nil {
		return nil, fmt.Errorf("read the socket table: %w", err)
	}
	var out []Listener
	for _, c := range conns {
		if c.Status != "LISTEN" || int(c.Laddr.Port) != port {
			continue
		}
		l := Listener{Addr: net.JoinHostPort(c.Laddr.IP, strconv.Itoa(port)), Port: port, UID: -1}
		if len(c.Uids) > 0 {
			l.UID = int(c.Uids[0])
			l.User = userName(l.UID)
		}
		if c.Pid > 0 {
			if p, err := Lookup(ctx, int(c.Pid)); err == nil {
				l.Proc = p
				gp := &process.Process{Pid: c.Pid}
				if args, err := gp.CmdlineSliceWithContext(ctx); err == nil {
					l.Command = joinCommand(args)
				}
				l.Cwd, _ = gp.CwdWithContext(ctx) // Not visible: left empty.
				if env, err := gp.EnvironWithContext(ctx); err == nil {
					l.Marker = markerValue(env)
				}
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// ListenTable is nil here: each process's sockets are asked for by
// gopsutil (see TreeUsageWith).
type ListenTable struct{}

// ReadListenTable returns nil: there is no table to read once here.
func ReadListenTable() (*ListenTable, error) { return nil, nil }

func (lt *ListenTable) listening(pid int, u *Usage) error { return errNoTable }

// errNoTable says a ListenTable holds nothing to look in: only Linux reads
// the socket tables once per refresh.
var errNoTable = errors.New("no listening-socket table")
