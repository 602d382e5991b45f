package toolbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Tasks on other hosts: bg_run with host runs the tool there (package
// remote deploys our lean build and carries the call over ssh), and a
// local record of the task id routes every later call about it there.
// Cursors, cleaning, digest, filters and waits run there; only the
// answer crosses the network.

// listHostTimeout bounds how long bg_status's list waits for one host.
const listHostTimeout = 5 * time.Second

// cleanupHostTimeout bounds a cleanup of everything on the other hosts
// (one call per task there, the hosts at once).
const cleanupHostTimeout = time.Minute

// noticeHostTimeout bounds the look for ended tasks on each host that runs
// tasks of ours, made beside every tool call.
const noticeHostTimeout = 3 * time.Second

// hostRetryAfter is how long a host that could not be reached is left
// out of the looks made beside other calls (notices, the list, cleanup
// of everything): without it, one host that is down would slow every
// call by noticeHostTimeout. A call about one of its tasks still tries.
const hostRetryAfter = 2 * time.Minute

// HostState is a host in bg_status's list.
type HostState struct {
	Host      string `json:"host"`
	Reachable bool   `json:"reachable"`
	Running   int    `json:"running"`
	Error     string `json:"error,omitempty"`
}

// remoteDeployer is what reaches other hosts, configured by the
// environment (BG_SSH, BG_DIST_DIR).
func (a *App) remoteDeployer() (*remote.Deployer, error) {
	ssh, err := remote.NewSSH(a.Getenv, a.Store.Dir)
	if err != nil {
		return nil, err
	}
	ssh.Env = a.Environ
	exe := a.Executable
	if exe == "" {
		exe, _ = os.Executable() // Unknown: only BG_DIST_DIR is looked in.
	}
	lean := LeanBeside(exe)
	if filepath.Base(exe) == LeanCommand {
		lean = exe
	}
	var links []string
	for _, t := range Tools() {
		links = append(links, t.Command())
	}
	return &remote.Deployer{Transport: ssh, Getenv: a.Getenv, Executable: exe, Lean: lean,
		Version: Version(), Binary: LeanCommand, Links: links, ToolEntry: ToolCommand,
		ReapBefore: RunTool().Name, StateDir: a.Store.Dir}, nil
}

// remoteCallBound ends a call to another host that its caller did not
// bound (the command line's): the longest wait a tool takes (600 s), and
// room to connect and deploy. A call must not hang for ever on a host
// that never answers.
const remoteCallBound = 12 * time.Minute

// privateReaderKey carries a reader of its own for a call to another
// host, whatever the environment says (bgtask logs' private cursor).
type privateReaderKey struct{}

// callRemote runs tool on host with params and returns its JSON answer
// and the notices it carried. A tool error there is an error here.
func (a *App) callRemote(ctx context.Context, host, tool string, params []byte) (json.RawMessage, []Notice, error) {
	d, err := a.remoteDeployer()
	if err != nil {
		return nil, nil, err
	}
	var env []string
	r := a.reader(ctx)
	if p, ok := ctx.Value(privateReaderKey{}).(string); ok {
		r = p
	}
	if r != "" {
		env = append(env, "AMP_THREAD_ID="+taskid.FileName(r))
	}
	if kv := callLimitEnv(ctx); kv != "" {
		env = append(env, kv)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, remoteCallBound)
		defer cancel()
	}
	ans, failed, err := d.Tool(ctx, host, tool, params, env...)
	if err != nil {
		if remote.IsKind(err, remote.KindUnreachable) {
			a.markDown(host, err)
		}
		return nil, nil, err
	}
	remote.RecordsIn(a.Store.Dir).MarkUp(host)
	if failed {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(ans, &e) // No message: say so below.
		if e.Error == "" {
			e.Error = string(ans)
		}
		return nil, nil, fmt.Errorf("%s (on %s)", e.Error, host)
	}
	var n struct {
		Notices []Notice `json:"notices"`
	}
	_ = json.Unmarshal(ans, &n) // Notices are a courtesy.
	return ans, n.Notices, nil
}

// forgetRemote is the cleanup of a task whose host cannot be reached:
// the record here is dropped, so that the host stops being asked about
// it, and the answer says that the task may still run there.
func (a *App) forgetRemote(rec remote.Record, why error) (CleanupResult, error) {
	if err := remote.RecordsIn(a.Store.Dir).Remove(rec.ID); err != nil {
		return CleanupResult{}, fmt.Errorf("%w (cleaning it up, as %v)", err, why)
	}
	return CleanupResult{Action: "cleanup", Cleaned: 1, Message: fmt.Sprintf("%s%s (%s) here only: %v. "+
		"It may still run on %s and its files stay there; from here it is no longer listed, asked about or stopped.",
		ForgotPrefix, rec.ID, rec.Label, why, rec.Host)}, nil
}

// ForgotPrefix starts the message of a cleanup that only forgot a task
// here (see forgetRemote).
const ForgotPrefix = "Forgot "

// markDown remembers that host could not be reached (see hostRetryAfter).
func (a *App) markDown(host string, why error) {
	_ = remote.RecordsIn(a.Store.Dir).MarkDown(host, a.Now(), why) // Best effort: the host is asked again.
}

// downHost returns host's failure when it is recent enough that the
// looks beside other calls leave the host out (see hostRetryAfter).
func (a *App) downHost(host string) (remote.Down, bool) {
	d, ok := remote.RecordsIn(a.Store.Dir).LastDown(host)
	if !ok || a.Now().Sub(d.At) >= hostRetryAfter || a.Now().Before(d.At) {
		return remote.Down{}, false
	}
	return d, true
}

// downError says, for a host left out, when and why it last failed.
func (a *App) downError(d remote.Down) error {
	return fmt.Errorf("not reached %s ago (%s); asked again after %s, or now by a call about one of its tasks",
		FormatDuration(a.Now().Sub(d.At)), d.Error, FormatDuration(hostRetryAfter))
}

// remoteWaitProgress reports progress here, when the call wants it,
// while a wait happens on another host. stop ends the reports. The
// call's limit itself goes there (callLimitEnv), so a wait it cuts short
// answers as one cut here does.
func remoteWaitProgress(ctx context.Context, wait float64) (stop func()) {
	l, _ := ctx.Value(callLimitKey{}).(CallLimit)
	if l.Progress == nil || wait <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	start, total := time.Now(), time.Duration(wait*float64(time.Second))
	go func() {
		tick := time.NewTicker(ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				l.Progress(time.Since(start), total)
			}
		}
	}()
	return func() { close(done) }
}

// remoteAnswerMargin is the time a call on another host keeps, of its
// limit, for the answer to come back.
const remoteAnswerMargin = 3 * time.Second

// callLimitEnv is the environment entry that passes the call's limit to
// a tool on another host (remote.CallLeftEnv: seconds left, so that the
// hosts' clocks need not agree), or "" when the call has none.
func callLimitEnv(ctx context.Context) string {
	l, _ := ctx.Value(callLimitKey{}).(CallLimit)
	if l.Until.IsZero() {
		return ""
	}
	left := max(time.Until(l.Until)-remoteAnswerMargin, 0)
	return remote.CallLeftEnv + "=" + strconv.FormatFloat(left.Seconds(), 'f', 1, 64)
}

// learn records a remote task's status, and tells the desktop, once, of
// an end its notify mode announces. It is how remote failures are
// noticed without a local daemon: on the next call that learns of them.
func (a *App) learn(ctx context.Context, id, status string, exitCode *int) {
	recs := remote.RecordsIn(a.Store.Dir)
	rec, ok := recs.Get(id)
	if !ok || status == "" || (rec.Status == status && (rec.Notified || status == supervisor.StatusRunning)) {
		return
	}
	rec.Status = status
	if exitCode != nil {
		rec.ExitCode = exitCode
	}
	if status != supervisor.StatusRunning && !rec.Notified {
		rec.Notified = true
		// A failed notification (no desktop here) is kept with the
		// record, as a local task keeps it in its supervisor.log.
		rec.NotifyError = ""
		if err := a.notifyRemoteEnd(ctx, rec); err != nil {
			rec.NotifyError = err.Error()
		}
	}
	_ = recs.Put(rec) // Best effort: the next call learns it again.
}

// learnNotices learns the ends that a host's notices report.
func (a *App) learnNotices(ctx context.Context, notices []Notice) {
	for _, n := range notices {
		a.learn(ctx, n.TaskID, n.Status, n.ExitCode)
	}
}

// notifyRemoteEnd tells the desktop here how a remote task ended.
func (a *App) notifyRemoteEnd(ctx context.Context, rec remote.Record) error {
	t := &supervisor.Task{ID: rec.ID, Label: rec.Label + " on " + rec.Host, Command: rec.Command, Status: rec.Status,
		ExitCode: rec.ExitCode, StartedAt: rec.StartedAt, FinishedAt: a.Now(), Notify: rec.Notify}
	return a.notifyEvent(ctx, t, "", false)
}

// remoteNotices asks each host running tasks of ours, except skip, for
// the tasks that ended there since this reader's previous call (a bg_status
// list there carries them), bounded in time: a host that does not answer
// is asked again on the next call.
func (a *App) remoteNotices(ctx context.Context, skip string) []Notice {
	var hosts []string
	for _, rec := range remote.RecordsIn(a.Store.Dir).List() {
		if rec.Status == supervisor.StatusRunning && rec.Host != skip && !slices.Contains(hosts, rec.Host) {
			if _, down := a.downHost(rec.Host); !down {
				hosts = append(hosts, rec.Host)
			}
		}
	}
	var out []Notice
	for _, notices := range eachHost(ctx, hosts, noticeHostTimeout, func(hctx context.Context, h string) []Notice {
		hctx, sink := withNoticeSink(hctx)
		if _, err := (sshTasks{a: a, host: h}).listThere(hctx, StatusInput{}); err != nil {
			a.markSilent(ctx, h, err)
		}
		return sink.all()
	}) {
		out = append(out, notices...)
	}
	return out
}

// markSilent remembers host as down when a look at it ran out of its own
// time (ctx, the caller's, is still on): a black-holed address answers
// nothing, not even a refusal.
func (a *App) markSilent(ctx context.Context, host string, err error) {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		a.markDown(host, errors.New("no answer in time"))
	}
}

// listEverywhere is bg_status's list: the tasks here, and those started
// from here on other hosts, each host asked at once within
// listHostTimeout; a host that does not answer is listed as unreachable
// with its tasks as last known.
func (a *App) listEverywhere(ctx context.Context, in StatusInput) (StatusList, error) {
	l, err := localTasks{a}.List(ctx, in)
	recs := remote.RecordsIn(a.Store.Dir).List()
	if err != nil || len(recs) == 0 {
		return l, err
	}
	hosts, byHost := groupByHost(recs)
	type answer struct {
		list    StatusList
		notices []Notice
		err     error
	}
	answers := eachHost(ctx, hosts, listHostTimeout, func(hctx context.Context, h string) answer {
		if d, down := a.downHost(h); down {
			return answer{err: a.downError(d)}
		}
		hctx, sink := withNoticeSink(hctx)
		list, err := (sshTasks{a: a, host: h}).List(hctx, StatusInput{All: true})
		a.markSilent(ctx, h, err)
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", listHostTimeout)
		}
		return answer{list: list, notices: sink.all(), err: err}
	})
	var rows []TaskSummary
	for i, h := range hosts {
		st := HostState{Host: h, Reachable: answers[i].err == nil}
		if answers[i].err != nil {
			st.Error = answers[i].err.Error()
			for _, r := range byHost[h] {
				s := TaskSummary{TaskID: r.ID, Label: r.Label, Status: r.Status, Command: r.Command, Host: h, ExitCode: r.ExitCode,
					StartedAt: r.StartedAt.UTC().Format(supervisor.TimeLayout), Age: FormatDuration(a.Now().Sub(r.StartedAt))}
				if r.Status == supervisor.StatusRunning {
					s.Status, s.AutoKill = "unreachable", "unknown: host unreachable"
				}
				rows = append(rows, s)
			}
		} else {
			noteNotices(ctx, answers[i].notices)
			st.Running = answers[i].list.Summary.Running
			rows = append(rows, answers[i].list.Tasks...)
		}
		l.Hosts = append(l.Hosts, st)
	}
	// Merge by start time; keep the running ones and the newest finished.
	rows = append(l.Tasks, rows...)
	slices.SortStableFunc(rows, func(x, y TaskSummary) int { return strings.Compare(x.StartedAt, y.StartedAt) })
	finished := 0
	for _, s := range rows {
		if s.Status != supervisor.StatusRunning && s.Status != "unreachable" {
			finished++
		}
	}
	l.Tasks = l.Tasks[:0]
	l.Summary.Total, l.Summary.Running = l.Summary.Hidden, 0
	for _, s := range rows {
		l.Summary.Total++
		if s.Status == supervisor.StatusRunning || s.Status == "unreachable" {
			l.Summary.Running++
		} else if finished--; !in.All && finished >= listedFinished {
			l.Summary.Hidden++
			continue
		}
		l.Tasks = append(l.Tasks, s)
	}
	return l, nil
}

// groupByHost groups records by host; hosts lists each host once, in the
// order of its first record.
func groupByHost(recs []remote.Record) (hosts []string, byHost map[string][]remote.Record) {
	byHost = map[string][]remote.Record{}
	for _, r := range recs {
		if _, ok := byHost[r.Host]; !ok {
			hosts = append(hosts, r.Host)
		}
		byHost[r.Host] = append(byHost[r.Host], r)
	}
	return hosts, byHost
}
