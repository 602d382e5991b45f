package procs

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shirou/gopsutil/v3/net"
)

// Usage is what a task's process tree holds and uses right now.
type Usage struct {
	Listening  []string // "127.0.0.1:5173", sorted, TCP sockets in LISTEN state
	Ports      []int    // their ports, sorted, without repeats
	Processes  int
	RSSBytes   uint64
	CPUPercent float64 // summed over the tree, since each process started
}

// TaskTree returns the live processes of the tree rooted at root that
// carry marker (see Table.Tree).
func TaskTree(ctx context.Context, root Proc, marker string) ([]Proc, error) {
	t, err := Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return t.Tree(root, marker), nil
}

// TreeUsage sums up the processes ps. Processes that end meanwhile are
// skipped: the figures are a moment's, not a promise.
func TreeUsage(ctx context.Context, ps []Proc) (Usage, error) {
	lt, _ := ReadListenTable() // Without one, each process's sockets are asked for.
	return TreeUsageWith(ctx, ps, lt)
}

// TreeUsageWith is TreeUsage with the listening sockets read once by the
// caller (ReadListenTable) for several trees; lt nil asks gopsutil per
// process.
func TreeUsageWith(ctx context.Context, ps []Proc, lt *ListenTable) (Usage, error) {
	var u Usage
	now := time.Now()
	for _, p := range ps {
		cpu, rss, ok := usage(ctx, p.PID, p.Start, now)
		if !ok {
			continue
		}
		u.Processes++
		u.RSSBytes += rss
		u.CPUPercent += cpu
		if lt != nil && lt.listening(p.PID, &u) == nil {
			continue
		}
		conns, err := net.ConnectionsPidWithContext(ctx, "tcp", int32(p.PID))
		if err != nil {
			continue
		}
		for _, c := range conns {
			if c.Status != "LISTEN" {
				continue
			}
			addr := fmt.Sprintf("%s:%d", c.Laddr.IP, c.Laddr.Port)
			if c.Laddr.IP == "::" || c.Laddr.IP == "" {
				addr = fmt.Sprintf("[::]:%d", c.Laddr.Port)
			}
			u.addListener(addr, int(c.Laddr.Port))
		}
	}
	slices.Sort(u.Listening)
	slices.Sort(u.Ports)
	return u, nil
}

// addListener records a listening address and its port once.
func (u *Usage) addListener(addr string, port int) {
	if !slices.Contains(u.Listening, addr) {
		u.Listening = append(u.Listening, addr)
	}
	if !slices.Contains(u.Ports, port) {
		u.Ports = append(u.Ports, port)
	}
}
