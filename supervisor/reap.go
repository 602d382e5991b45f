package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/smallfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// ReapOptions configure Store.Reap.
type ReapOptions struct {
	// MaxAge: running tasks that nobody supervises (their supervisor is
	// gone) started longer ago are killed; finished ones that ended
	// longer ago are removed. Supervised tasks follow their own timeout.
	MaxAge time.Duration
	// DryRun reports what would be done and does nothing.
	DryRun bool
	// Grace is the SIGTERM→SIGKILL delay for trees the reaper kills
	// itself; zero means procs.DefaultGrace.
	Grace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Reap actions.
const (
	ActionKill  = "kill"  // supervised, far past its own timeout: killed, recorded reaped
	ActionReap  = "reap"  // supervisor gone, processes left past their timeout or MaxAge: killed, recorded reaped
	ActionDead  = "dead"  // supervisor and processes gone: recorded killed
	ActionClean = "clean" // finished past MaxAge: folder removed
)

// ReapAction is one thing the reaper did, or would do in a dry run.
type ReapAction struct {
	Action string
	Task   *Task
	Why    string
	// Killed lists the processes ended (ActionReap).
	Killed []procs.Proc
	Err    error
}

// Reap makes sure nothing is left running unowned. A task's own timeout
// governs it: a supervised task is left to its supervisor (timeout=0 runs
// until stopped), unless it is far past its deadline (then it is killed
// through the supervisor, which records "reaped"). MaxAge is for what
// nobody enforces: what is left of tasks whose supervisor died (found by
// their BG_TASK_ID marker, also outside their process group) is killed
// and recorded "reaped" once past its own timeout or older than MaxAge.
// Tasks found dead with nothing recorded are recorded killed, and
// finished tasks that ended more than MaxAge ago are removed.
//
// It is meant to run on every shell start, so the path where there is
// nothing to do reads the ended index (see ended.go), one small file per
// ended task the index does not know yet (then adds it) and two per
// running one, and never walks the process table; the table is read only
// for a task whose supervisor is gone.
func (s Store) Reap(ctx context.Context, o ReapOptions) ([]ReapAction, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	checked := time.Now() // The real clock, whatever o.Now says: see reaplist.Remembered.
	fi, err := s.checkStat()
	if err != nil {
		return nil, fmt.Errorf("reap: %w", err)
	}
	if fi == nil {
		return nil, nil // No store yet: nothing ever ran.
	}
	names, err := s.reapNames(fi, checked, now().Add(-o.MaxAge).Unix(), !o.DryRun)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reap: list tasks: %w", err)
	}
	var idx *endedIndex // read when a task ended recently, to tell whether it knows
	var out []ReapAction
	var fresh []string // ended recently, not in the index yet
	for _, name := range names {
		if leftover(name) {
			s.reapStaging(name, now(), o.DryRun)
			continue
		}
		if !taskid.Valid(name) {
			continue // Not from a listing (see reapable): from a damaged list.
		}
		a, recent, ok := s.reapTask(ctx, name, now, o)
		if recent {
			if idx == nil {
				x := s.readEnded()
				idx = &x
			}
			if _, known := idx.find([]byte(name)); !known {
				fresh = append(fresh, name)
			}
		}
		if ok {
			out = append(out, a)
		}
	}
	if len(fresh) > 0 && !o.DryRun {
		s.rememberEnded(fresh, s.presentNow())
	}
	return out, nil
}

// reapCandidates lists the names in the store that Reap must look at,
// oldest first: all but the tasks the ended index says ended at or after
// recent (unix seconds), which most are on most shell starts, and which
// are skipped without a string made of their names. oldest is the
// earliest end of those skipped (unix seconds; 0 when none is): the
// listing holds until recent passes it.
func (s Store) reapCandidates(idx endedIndex, recent int64) (names []string, oldest int64, err error) {
	err = eachName(s.Dir, storeListBuf, func(name []byte, maybeDir bool) {
		if !maybeDir {
			return
		}
		if l, ok := idx.find(name); ok && l.finishedAtSec != 0 && l.finishedAtSec >= recent {
			if oldest == 0 || l.finishedAtSec < oldest {
				oldest = l.finishedAtSec
			}
			return
		}
		if reapable(name) {
			names = append(names, string(name))
		}
	})
	slices.Sort(names)
	return names, oldest, err
}

// reapable reports whether the reaper looks at the store's folder name: a
// task's, or what a start or a removal left (see reapStaging); not the
// store's own folders (.notices, .cache) nor anything else.
func reapable[T string | []byte](name T) bool { return leftover(name) || taskid.Valid(name) }

// leftover reports a folder a start (.staging-) or a removal (.removing-)
// may leave behind.
func leftover[T string | []byte](name T) bool {
	return strings.HasPrefix(string(name), ".staging-") || strings.HasPrefix(string(name), ".removing-")
}

// reapTask decides, and unless o.DryRun does, what the reaper does with
// the task named name: ok when there is something. recent reports a task
// that ended within MaxAge (for the ended index to learn).
func (s Store) reapTask(ctx context.Context, name string, now func() time.Time, o ReapOptions) (a ReapAction, recent, ok bool) {
	dir := filepath.Join(s.Dir, name)
	// finished_at is written only when a task ends: when it is there and
	// recent, one file read settles the everyday case. It is read before
	// the folder is checked, which costs an lstat per task: leaving a task
	// alone is what both outcomes do, so the folder needs checking only
	// before its records are acted on.
	finished := readTime(dir, fileFinishedAt)
	if !finished.IsZero() && now().Sub(finished) <= o.MaxAge {
		return ReapAction{}, true, false
	}
	if checkTaskDir(dir) != nil {
		return ReapAction{}, false, false // Planted or tampered with: never act on its records.
	}
	switch status := readOne(dir, fileStatus); status {
	case "":
		s.reapReservation(name, now(), o.DryRun)
		return ReapAction{}, false, false
	case StatusRunning:
		t, err := readTask(dir)
		if err != nil {
			return ReapAction{}, false, false
		}
		a, ok := s.reapRunning(ctx, t, now(), o)
		return a, false, ok
	}
	end := endedAt(dir, finished)
	if end.IsZero() {
		end = readTime(dir, fileStartedAt)
	}
	if end.IsZero() {
		end = idTime(name)
	}
	if end.IsZero() || now().Sub(end) <= o.MaxAge {
		return ReapAction{}, false, false
	}
	t, err := readTask(dir)
	if err != nil || t.Status == StatusRunning {
		return ReapAction{}, false, false
	}
	a = ReapAction{Action: ActionClean, Task: t, Why: fmt.Sprintf("%s %s ago", t.Status, age(now().Sub(end)))}
	if !o.DryRun {
		a.Err = s.Remove(t)
	}
	return a, false, true
}

func (s Store) reapRunning(ctx context.Context, t *Task, now time.Time, o ReapOptions) (ReapAction, bool) {
	if procs.Alive(ctx, t.Watchdog) {
		// Its supervisor enforces the task's own timeout: MaxAge does not
		// apply (timeout=0 means kept until stopped, a 4-hour build runs 4
		// hours). Only a supervisor that let the deadline pass by far is
		// helped along.
		dl := t.Deadline()
		if dl.IsZero() || now.Sub(dl) <= overdueSlack {
			return ReapAction{}, false // Supervised and within its timeout: the common case.
		}
		a := ReapAction{Action: ActionKill, Task: t, Why: fmt.Sprintf("running for %s, %s past its timeout of %s", age(now.Sub(t.StartedAt)), age(now.Sub(dl)), age(t.Timeout))}
		if !o.DryRun {
			// Through the supervisor, so that it stays the single
			// writer of the outcome ("reaped"); without it when it
			// cannot act.
			_, a.Err = s.endThroughSupervisor(ctx, t, ReapSignal, StatusReaped, o.Grace)
		}
		return a, true
	}
	// The supervisor is gone without recording an end: SIGKILL, OOM,
	// reboot, or a task of an earlier version. Whatever carries the
	// task's marker is an orphan now.
	tab, err := procs.Snapshot(ctx)
	if err != nil {
		return ReapAction{Action: ActionReap, Task: t, Err: err}, true
	}
	left := tab.Tree(t.Root, t.ID)
	if len(left) == 0 {
		a := ReapAction{Action: ActionDead, Task: t, Why: "supervisor and command gone, nothing recorded"}
		if !o.DryRun {
			if cur, err := s.Settle(ctx, t); err != nil {
				a.Err = err
			} else if cur.Status != StatusKilled {
				return ReapAction{}, false // Its supervisor recorded an end after all.
			} else {
				a.Task = cur // As recorded: killed, which its notification says.
			}
		}
		return a, true
	}
	// Nobody enforces its timeout: the reaper does, and MaxAge bounds
	// what has none.
	why := ""
	switch dl := t.Deadline(); {
	case !dl.IsZero() && now.After(dl):
		why = fmt.Sprintf("supervisor gone, %d orphaned process(es), past its timeout of %s", len(left), age(t.Timeout))
	case now.Sub(t.StartedAt) > o.MaxAge:
		why = fmt.Sprintf("supervisor gone, %d orphaned process(es), running for %s, max age %s", len(left), age(now.Sub(t.StartedAt)), age(o.MaxAge))
	default:
		return ReapAction{}, false
	}
	a := ReapAction{Action: ActionReap, Task: t, Killed: left, Why: why}
	if !o.DryRun {
		_, a.Err = s.takeOver(ctx, t, StatusReaped, o.Grace)
	}
	return a, true
}

// overdueSlack is how long past its deadline a supervised task may still
// run before the reaper steps in: the supervisor's own kill takes its
// grace period and a SIGKILL round.
const overdueSlack = 5 * time.Minute

// reapStaging deals with what a bg_run or a restart that died mid-way
// left behind, after a minute (a live one needs milliseconds, and writes
// into its staging folder, which makes it young): a staging folder that
// holds a whole record, as a restart's does (the task's folder, moved
// aside, logs and all), is put back in place, where the next look
// settles it (its supervisor is gone); anything else is removed, with the
// empty folder a restart reserved in earlier versions.
func (s Store) reapStaging(name string, now time.Time, dryRun bool) {
	path := filepath.Join(s.Dir, name)
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() || now.Sub(fi.ModTime()) < time.Minute || dryRun {
		return
	}
	id, staged := strings.CutPrefix(name, ".staging-")
	if staged && taskid.Valid(id) {
		dir := filepath.Join(s.Dir, id)
		_ = os.Remove(dir) // An empty reservation, if any; never one that holds files.
		if _, err := readTask(path); err == nil {
			// Never removed: a folder in the way (readers' cursors in
			// the empty folder earlier versions reserved) keeps it
			// where it is, which Load's error names.
			_ = syscall.Rename(path, dir) // Best effort: retried next time.
			return
		}
	}
	_ = os.RemoveAll(path) // Best effort: retried next time.
}

// reapReservation removes the empty folder a restart (or a start of an
// earlier version) reserved under a task's id and left behind when it
// died: after a minute, and when no staging folder stands for it.
// Nothing else lists it (it has no status), so nothing else removes it.
func (s Store) reapReservation(name string, now time.Time, dryRun bool) {
	dir := filepath.Join(s.Dir, name)
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || now.Sub(fi.ModTime()) < time.Minute || dryRun {
		return
	}
	if _, err := os.Lstat(filepath.Join(s.Dir, ".staging-"+name)); !errors.Is(err, fs.ErrNotExist) {
		return // Its start or restart is under way (or its staging is the reaper's to remove first).
	}
	_ = os.Remove(dir) // Only if empty; best effort: retried next time.
}

func readOne(dir, name string) string {
	b, _ := readMeta(filepath.Join(dir, name))
	return strings.TrimSpace(string(b))
}

// readTime reads the first of names that holds a time.
func readTime(dir string, names ...string) time.Time {
	var buf [64]byte // a time and its newline, with room to spare
	for _, name := range names {
		path := filepath.Join(dir, name)
		s := ""
		switch n, full, err := smallfile.ReadInto(path, buf[:]); {
		case err != nil:
			continue
		case full:
			// Longer than any time: read whole, as every other record
			// is, so that what follows a time still spoils it.
			s = readOne(dir, name)
		default:
			s = strings.TrimSpace(string(buf[:n]))
		}
		if t, err := time.Parse(TimeLayout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// age prints a duration in minutes, as --max-age takes it; under a
// minute, in seconds.
func age(d time.Duration) string {
	if d < time.Minute {
		return strconv.Itoa(int(d.Seconds())) + "s" // "24s", not "0m".
	}
	return strconv.Itoa(int(d.Minutes())) + "m"
}
