package procs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v3/process"
)

// MarkerEnv is the environment variable every process of a task inherits.
// Its value is the task id; it survives double forks and setsid, so it finds
// descendants that left the task's process group.
const MarkerEnv = "BG_TASK_ID"

// Proc names one process for its whole life: a PID alone is ambiguous once
// the process has exited and the OS hands the number to another process.
type Proc struct {
	PID int
	// Start is the process start time in milliseconds since the Unix epoch,
	// as gopsutil's CreateTime reports it. Zero means unknown, and an
	// unknown start time never matches a live process.
	Start int64
}

func (p Proc) String() string { return fmt.Sprintf("pid %d (started %d)", p.PID, p.Start) }

// ErrNotFound reports that no live process matches a Proc: it exited, or its
// PID now belongs to a process that started at another time.
var ErrNotFound = errors.New("process not found")

// Lookup returns pid with its current start time.
func Lookup(ctx context.Context, pid int) (Proc, error) {
	if pid <= 0 {
		return Proc{}, fmt.Errorf("look up pid %d: %w", pid, ErrNotFound)
	}
	r, err := newStatReader()
	if err != nil {
		return Proc{}, err
	}
	st, err := r.read(ctx, pid)
	if err != nil {
		return Proc{}, err
	}
	return Proc{PID: pid, Start: st.start}, nil
}

// startSlack is how far a start time read from the system may be off: the
// kernel counts from a boot time in whole seconds.
const startSlack = time.Second

// adoptWindow is how long after its task's start a process may have
// started and still be the task's: the original tool records started_at
// as it launches the command. A process that started later got the PID
// after the task's own process exited.
const adoptWindow = 10 * time.Second

// Adopt returns the live process pid when it can be the one a record
// without a start time names (a task of an earlier version): one of
// ours, started within adoptWindow of notBefore. A process that started
// earlier or later is another one that got the PID, and is refused.
func Adopt(ctx context.Context, pid int, notBefore time.Time) (Proc, bool) {
	if pid <= 0 {
		return Proc{}, false
	}
	r, err := newStatReader()
	if err != nil {
		return Proc{}, false
	}
	st, err := r.read(ctx, pid)
	if err != nil || st.zombie ||
		st.start < notBefore.Add(-startSlack).UnixMilli() ||
		st.start > notBefore.Add(adoptWindow+startSlack).UnixMilli() ||
		!ownedBy(ctx, &process.Process{Pid: int32(pid)}, int32(os.Getuid())) {
		return Proc{}, false
	}
	return Proc{PID: pid, Start: st.start}, true
}

// ownedBy reports whether the real user of gp is uid: we signal only
// our own processes.
func ownedBy(ctx context.Context, gp *process.Process, uid int32) bool {
	uids, err := gp.UidsWithContext(ctx)
	return err == nil && len(uids) > 0 && uids[0] == uid
}

// Alive reports whether p still runs: the PID exists, started at the
// recorded time and is not a zombie. A zombie has exited; only its exit
// status waits for its parent.
func Alive(ctx context.Context, p Proc) bool {
	alive, _ := State(ctx, p)
	return alive
}

// Stopped reports whether p runs but is stopped: by SIGSTOP or SIGTSTP
// (SIGCONT resumes it) or by a tracer (only the tracer does).
func Stopped(ctx context.Context, p Proc) bool {
	_, stopped := State(ctx, p)
	return stopped
}

// State is Alive and Stopped from one read of p's stat, for a caller that
// polls both.
func State(ctx context.Context, p Proc) (alive, stopped bool) {
	st, ok := statOf(ctx, p)
	return ok && !st.zombie, ok && st.stopped
}

// statOf reads p's stat when p is still the process that started at p.Start.
func statOf(ctx context.Context, p Proc) (statInfo, bool) {
	if p.PID <= 0 || p.Start == 0 {
		return statInfo{}, false
	}
	r, err := newStatReader()
	if err != nil {
		return statInfo{}, false
	}
	st, err := r.read(ctx, p.PID)
	return st, err == nil && st.start == p.Start
}

// entry is one row of a process table snapshot.
type entry struct {
	proc   Proc
	ppid   int
	marker string // value of MarkerEnv, read only for our own processes
}

// Table is a snapshot of the processes this user owns, read once so that a
// tree walk costs one pass over /proc rather than a pgrep per node.
type Table struct {
	byPID    map[int]entry
	children map[int][]int
}

// Snapshot reads the process table. Processes of other users are left out:
// we never signal them, so we need not know them. Zombies are left out too.
func Snapshot(ctx context.Context) (*Table, error) { return snapshot(ctx, nil) }

// Snapshotter takes snapshots for a caller that reads the table again
// and again (bgtask top, every second): it remembers, by PID and start
// time, whose each process is and the task marker it carries, so that a
// later snapshot reads only each process's stat, and status and environ
// only of processes new since. A process cannot change the environment
// it started with, and a PID reused is another start time. Only for
// readings: what is signalled is looked up afresh (KillTree).
type Snapshotter struct {
	mu    sync.Mutex
	known map[Proc]knownProc
}

type knownProc struct {
	owned  bool
	marker string
}

// NewSnapshotter returns a Snapshotter that knows no process yet.
func NewSnapshotter() *Snapshotter { return &Snapshotter{known: map[Proc]knownProc{}} }

// Snapshot is procs.Snapshot, from what s remembers where it can.
func (s *Snapshotter) Snapshot(ctx context.Context) (*Table, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return snapshot(ctx, s)
}

func snapshot(ctx context.Context, cache *Snapshotter) (*Table, error) {
	pids, err := process.PidsWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	r, err := newStatReader()
	if err != nil {
		return nil, err
	}
	uid := int32(os.Getuid())
	t := &Table{byPID: make(map[int]entry, len(pids)), children: make(map[int][]int)}
	seen := map[Proc]bool{}
	if cache != nil {
		defer func() {
			for p := range cache.known {
				if !seen[p] {
					delete(cache.known, p) // Gone: its PID may come back as another process.
				}
			}
		}()
	}
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st, err := r.read(ctx, int(pid))
		if err != nil || st.zombie {
			continue // Exited since the listing.
		}
		p := Proc{PID: int(pid), Start: st.start}
		k, ok := knownProc{}, false
		if cache != nil {
			k, ok = cache.known[p]
			seen[p] = true
		}
		if !ok {
			// A Process value without NewProcess's existence probe: we
			// just read its stat, and a read below that fails skips it.
			gp := &process.Process{Pid: pid}
			k.owned = ownedBy(ctx, gp, uid)
			if k.owned {
				if env, err := gp.EnvironWithContext(ctx); err == nil {
					k.marker = markerValue(env)
				}
			}
			if cache != nil {
				cache.known[p] = k
			}
		}
		if !k.owned {
			continue
		}
		e := entry{proc: p, ppid: st.ppid, marker: k.marker}
		t.byPID[e.proc.PID] = e
		t.children[e.ppid] = append(t.children[e.ppid], e.proc.PID)
	}
	return t, nil
}

func markerValue(env []string) string {
	prefix := MarkerEnv + "="
	for _, kv := range env {
		if len(kv) > len(prefix) && kv[:len(prefix)] == prefix {
			return kv[len(prefix):]
		}
	}
	return ""
}

// Tree returns the live members of a task's tree: root if it still matches
// its recorded start time, its descendants by parent links, and every process
// carrying marker in MarkerEnv. Descendants are only followed from a root
// that matches, so a reused PID never pulls a stranger's children in. The
// result is ordered by PID.
func (t *Table) Tree(root Proc, marker string) []Proc {
	seen := make(map[int]bool)
	var out []Proc
	var walk func(pid int)
	walk = func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		out = append(out, t.byPID[pid].proc)
		for _, c := range t.children[pid] {
			walk(c)
		}
	}
	if e, ok := t.byPID[root.PID]; ok && root.Start != 0 && e.proc.Start == root.Start {
		walk(root.PID)
	}
	if marker != "" {
		for pid, e := range t.byPID {
			if e.marker == marker {
				walk(pid)
			}
		}
	}
	slices.SortFunc(out, func(a, b Proc) int { return a.PID - b.PID })
	return out
}

// Marked returns the task ids found in MarkerEnv of live processes, with
// the processes carrying each: every task's processes from one walk.
func (t *Table) Marked() map[string][]Proc {
	out := make(map[string][]Proc)
	for _, e := range t.byPID {
		if e.marker != "" {
			out[e.marker] = append(out[e.marker], e.proc)
		}
	}
	return out
}
