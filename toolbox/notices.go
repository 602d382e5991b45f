package toolbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/notify"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// Notice tells an agent that a task ended since its previous call, so that
// it learns "tests failed" without polling.
type Notice struct {
	TaskID   string `json:"task_id"`
	Host     string `json:"host,omitempty"` // where the task ran, when not here
	Label    string `json:"label"`
	Status   string `json:"status"`
	ExitCode *int   `json:"exit_code"`
	Duration string `json:"duration"`
	Message  string `json:"message"`
}

// Execute runs a tool for a protocol (toolbox or MCP): the tool's result as
// a JSON object, with "notices" added when tasks ended since this reader's
// previous call.
func (a *App) Execute(ctx context.Context, t *Tool, raw []byte) (json.RawMessage, error) {
	in, err := t.Decode(raw)
	if err != nil {
		return nil, err
	}
	ctx, byCaller := withEndedByCaller(ctx)
	ctx = withOneListing(ctx, a.Store)
	got := a.gatherNotices(ctx, t, in)
	// A context of its own: the gathering reads ctx meanwhile.
	runCtx, sink := withNoticeSink(ctx)
	res, err := t.Run(runCtx, a, in)
	g := <-got
	if err != nil {
		return nil, err
	}
	if t.Name != StatusTool().Name { // bg_status remembers its listing's ends itself.
		a.rememberListed(ctx)
	}
	g.remote = append(g.remote, sink.all()...)
	out, err := marshal(res)
	if err != nil {
		return nil, err
	}
	known := knownEnds(res, byCaller)
	local, err := a.newsOnly(g.notices, known), g.err
	if err == nil {
		local, err = g.told(known, local)
	}
	notices := append(local, g.remote...)
	if err != nil || len(notices) == 0 {
		// Notices are a courtesy: failing to compute them must not
		// hide the answer the agent asked for.
		return out, nil
	}
	return withNotices(out, notices), nil
}

// gathered is what gatherNotices found: the local notices with told,
// which records them as told, and the remote hosts' notices.
type gathered struct {
	notices []Notice // local
	remote  []Notice
	told    func(known []string, telling []Notice) ([]Notice, error)
	err     error
}

// gatherNotices collects, beside the call of tool t with input in, the
// notices of tasks that ended since the reader's previous call. They are
// gathered while the tool runs: for bg_run that is while its supervisor
// starts, time the agent waits anyway. They are remembered as told only
// when the call succeeds (told): bad input changes nothing.
func (a *App) gatherNotices(ctx context.Context, t *Tool, in Input) <-chan gathered {
	got := make(chan gathered, 1)
	id, _ := in.vals["task_id"].(string) // bg_run has none: its task is new.
	host := a.hostOf(in)
	lists := t.Name == StatusTool().Name && id == "" // A list asks every host itself.
	go func() {
		n, told, err := a.notices(ctx, id)
		// Remote tasks that ended: hosts are asked beside the call,
		// but the one it goes to, whose answer carries them.
		var remote []Notice
		if !lists {
			remote = a.remoteNotices(ctx, host)
		}
		got <- gathered{n, remote, told, err}
	}()
	return got
}

// rememberListed puts the ends that this call's listing read one by one
// (tasks the ended index did not know) into the index, so that the next
// call's listing reads them from it, and dates the told ends of the
// reader's memory from it: without it every call read two small files
// per task ended since the last bg_status, and bg_run waited for them.
// Only after the answer (App.Later), only for a call that succeeded (bad
// input changes nothing), and only once the listing read laterIndexMin
// such files: a few cost less than the write, and a script that removes
// its state folder as soon as its call is answered would race a write
// made after the answer (a trial's finding).
func (a *App) rememberListed(ctx context.Context) {
	if a.Later == nil {
		return
	}
	refs, err := a.refs(ctx)
	if err != nil || supervisor.UnindexedEnds(refs) < laterIndexMin {
		return
	}
	a.Later(func() { a.Store.RememberEnded(refs) })
}

// laterIndexMin is how many ends a call's listing reads one by one
// before they are left to the ended index after the call: about 0.15 ms
// of reads on the test VM.
const laterIndexMin = 16

// knownEnds lists the ends the agent knows from this call: what the
// answer res itself says ended, and the ends the caller caused itself
// (replace=true, a stack's stop): it asked for them.
func knownEnds(res any, byCaller *endedByCaller) []string {
	var known []string
	if e, ok := res.(endedTeller); ok {
		for _, id := range e.endedTasks() {
			if id != "" {
				known = append(known, id)
			}
		}
	}
	return append(known, byCaller.list()...)
}

// newsOnly keeps the notices that are news: not about a task in known,
// nor about a task gone by now (the call cleaned it up: there is nothing
// to read). It reuses the notices' array.
func (a *App) newsOnly(notices []Notice, known []string) []Notice {
	news := notices[:0]
	for _, n := range notices {
		if slices.Contains(known, n.TaskID) || !a.taskExists(n.TaskID) {
			continue
		}
		news = append(news, n)
	}
	return news
}

// withNotices adds "notices" to the JSON object out; out as it is when
// the notices cannot be marshalled.
func withNotices(out json.RawMessage, notices []Notice) json.RawMessage {
	extra, err := marshal(map[string]any{"notices": notices})
	if err != nil {
		return out
	}
	// Both are JSON objects: splice the second's members into the first,
	// keeping the result's own field order.
	merged := bytes.TrimSuffix(bytes.TrimSpace(out), []byte("}"))
	if !bytes.HasSuffix(bytes.TrimSpace(merged), []byte("{")) {
		merged = append(merged, ',')
	}
	return append(merged, bytes.TrimPrefix(extra, []byte("{"))...)
}

// endedByCaller gathers the tasks a call ends itself (the task it
// replaces, the services it stops), so that no notice announces them.
type endedByCaller struct {
	mu  sync.Mutex
	ids []string
}

type endedByCallerKey struct{}

func withEndedByCaller(ctx context.Context) (context.Context, *endedByCaller) {
	e := &endedByCaller{}
	return context.WithValue(ctx, endedByCallerKey{}, e), e
}

// noteEndedByCaller records that the call in ctx ended task id itself.
func noteEndedByCaller(ctx context.Context, id string) {
	if e, ok := ctx.Value(endedByCallerKey{}).(*endedByCaller); ok {
		e.mu.Lock()
		e.ids = append(e.ids, id)
		e.mu.Unlock()
	}
}

func (e *endedByCaller) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.ids)
}

// endedTeller is an answer that tells how tasks ended (or that one was
// stopped): endedTasks are their ids ("" for one that runs).
type endedTeller interface{ endedTasks() []string }

// endedTasks of a service start are every service it touched that ended:
// a dependency that failed is told with its output in the answer, not
// again as news in the next one.
func (r RunResult) endedTasks() []string {
	ids := []string{endedID(r.TaskID, r.Status)}
	for _, s := range r.Services {
		ids = append(ids, endedID(s.TaskID, s.Status))
	}
	return ids
}
func (r OutputResult) endedTasks() []string { return []string{endedID(r.TaskID, r.Status)} }
func (r TaskDetail) endedTasks() []string   { return []string{endedID(r.TaskID, r.Status)} }
func (r StopResult) endedTasks() []string   { return []string{r.TaskID} }

func endedID(id, status string) string {
	if status == supervisor.StatusRunning || status == StatusNotStarted {
		return ""
	}
	return id
}

// taskExists reports whether the local task's folder is still there.
func (a *App) taskExists(id string) bool {
	_, err := os.Stat(filepath.Join(a.Store.Dir, id))
	return err == nil
}

func marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // Logs are full of <, > and &.
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// notices returns the tasks that ended since the reader's previous call,
// each once, and told, which records that they were told (nothing is
// recorded until it is called). about is the task the call itself was
// about: its answer already says how it ended.
func (a *App) notices(ctx context.Context, about string) (out []Notice, told func(known []string, telling []Notice) ([]Notice, error), err error) {
	told = func(_ []string, telling []Notice) ([]Notice, error) { return telling, nil }
	now := a.Now()
	m, err := a.loadEndMemory(ctx, now)
	if err != nil {
		return nil, told, err
	}
	if out, err = a.endedSince(ctx, m, about, now); err != nil {
		return nil, told, err
	}
	restarting, toldRestarts := a.restartNotices(ctx, about)
	out = append(out, restarting...)
	return out, func(known []string, telling []Notice) ([]Notice, error) {
		telling, err := a.rememberEnds(m, known, telling)
		telling, rerr := toldRestarts(telling)
		return telling, errors.Join(err, rerr)
	}, nil
}

// endedSince returns the notices of the tasks that ended since the
// memory m starts, but the one about, and notes in m every ended task.
func (a *App) endedSince(ctx context.Context, m *endMemory, about string, now time.Time) ([]Notice, error) {
	// The listing holds every task folder there is: remember the ones
	// already told, still on disk, so the file keeps only those. Only
	// the ends not told yet are read whole, and none on a reader's first
	// call, which tells nothing (a new thread with a thousand tasks kept
	// read them all before).
	told := make(map[string][]string, len(m.own.seen)) // id: its keys in the memory
	for _, k := range m.own.seen {
		told[keyID(k)] = append(told[keyID(k)], k)
	}
	refs, err := a.refs(ctx)
	if err != nil {
		return nil, err
	}
	// Second resolution on disk: a task that ended in the second of the
	// first call counts as new rather than be lost.
	cutoff := m.own.since.Truncate(time.Second)
	var out []Notice
	for _, r := range refs {
		if !r.FinishedAt.IsZero() && r.FinishedAt.Before(cutoff) {
			// Old news by its end time alone, which the listing knew: the
			// memory need not hold it. Remembering every end a reader ever
			// saw made each call read and write a line per kept task.
			continue
		}
		running := r.Status == "" || r.Status == supervisor.StatusRunning
		if keys := told[r.ID]; len(keys) > 0 {
			if running || a.toldEnd(r, keys) {
				m.keep = append(m.keep, keys...)
				continue
			}
			// Told of an earlier end: this one (after bgtask restart,
			// under the same id) is news, and replaces it in the memory.
		}
		if running {
			continue
		}
		at := r.FinishedAt
		switch {
		case m.first:
			// Not read (a first call tells nothing), but dated: a key of
			// the id alone would stand for every end of it, and the ends
			// of its later runs (bgtask restart) would never be told.
			if at.IsZero() {
				at = a.Store.EndedAt(r.ID) // Not in the ended index yet: one small file.
			}
		case r.ID == about:
			if at.IsZero() {
				at = a.Store.EndedAt(r.ID)
			}
		default:
			t, err := a.Store.Load(r.ID)
			if err != nil {
				break
			}
			if t.Status == supervisor.StatusRunning {
				continue // Restarted since the listing: its end is still to come.
			}
			at = t.FinishedAt
			if !t.FinishedAt.Before(cutoff) {
				out = append(out, noticeOf(t, now))
				m.noticed[r.ID] = endKey(r.ID, at)
			}
		}
		m.seen = append(m.seen, endKey(r.ID, at))
	}
	return out, nil
}

// restartNotices tells, once per reader, each running task whose restart
// policy ran its command again: "worker exited (exit 2) and is
// restarting". Its end, if its policy gives up, is an ordinary notice.
// Per running task it reads one small file (restarts); the ids told are
// kept in <notice memory>.restarting while they run. told saves that
// memory, read again under the lock the ended notices take: of parallel
// calls of one reader, one tells a restart (it returns telling without
// what another told meanwhile).
func (a *App) restartNotices(ctx context.Context, about string) ([]Notice, func(telling []Notice) ([]Notice, error)) {
	none := func(telling []Notice) ([]Notice, error) { return telling, nil }
	st, err := loadNoticeState(a.noticePath(ctx) + ".restarting")
	if err != nil {
		return nil, none
	}
	refs, err := a.refs(ctx)
	if err != nil {
		return nil, none
	}
	var out []Notice
	var keep []string
	for _, r := range refs {
		if r.Status != supervisor.StatusRunning {
			continue
		}
		if slices.Contains(st.seen, r.ID) {
			keep = append(keep, r.ID)
			continue
		}
		if r.ID == about || a.Store.RestartsOf(r.ID) == 0 {
			continue
		}
		t, err := a.Store.Load(r.ID)
		if err != nil || t.Restart.Policy == supervisor.RestartNo || t.LastExitCode == nil {
			continue // Restarted by hand (bgtask restart): the person knows.
		}
		keep = append(keep, t.ID)
		out = append(out, Notice{TaskID: t.ID, Label: t.Label, Status: notify.StatusRestarting, ExitCode: t.LastExitCode,
			Message: fmt.Sprintf("%s exited (exit %d) and is restarting under the same id (restart: %s; %d so far); read it with bg_output task_id=%s",
				t.Label, *t.LastExitCode, t.Restart.Policy, t.Restarts, t.ID)})
	}
	if len(out) == 0 && len(keep) == len(st.seen) {
		return out, none
	}
	return out, func(telling []Notice) ([]Notice, error) {
		unlock, err := supervisor.LockFolder(filepath.Dir(st.path))
		if err != nil {
			return telling, err
		}
		defer unlock()
		now, err := loadNoticeState(st.path)
		if err != nil {
			return telling, err
		}
		for _, id := range now.seen {
			if slices.Contains(st.seen, id) {
				continue
			}
			// Told by a parallel call since this one read the memory.
			telling = slices.DeleteFunc(telling, func(n Notice) bool { return n.TaskID == id && n.Status == notify.StatusRestarting })
			if !slices.Contains(keep, id) {
				keep = append(keep, id)
			}
		}
		if st.since.IsZero() {
			st.since = a.Now()
		}
		st.seen = keep
		return telling, st.save()
	}
}

func noticeOf(t *supervisor.Task, now time.Time) Notice {
	n := Notice{TaskID: t.ID, Label: t.Label, Status: t.Status, ExitCode: t.ExitCode}
	if !t.FinishedAt.IsZero() {
		n.Duration = FormatDuration(t.FinishedAt.Sub(t.StartedAt))
	}
	what := t.Status
	switch t.Status {
	case supervisor.StatusFailed:
		if t.ExitCode != nil {
			what = fmt.Sprintf("failed (exit %d)", *t.ExitCode)
		}
	case supervisor.StatusTimeout:
		what = fmt.Sprintf("timed out (its %s limit)", notify.FormatTimeout(t.Timeout))
	case supervisor.StatusReaped:
		what = "was reaped (orphaned or too old)"
	}
	if t.Status == supervisor.StatusFailed && t.Restart.Policy != supervisor.RestartNo && t.Restarts > 0 {
		what += fmt.Sprintf(": gave up after %d restarts", t.Restarts) // Told once, as every end.
	}
	n.Message = fmt.Sprintf("%s %s %s ago; read it with bg_output task_id=%s", t.Label, what, FormatDuration(now.Sub(t.FinishedAt)), t.ID)
	if t.Status != supervisor.StatusCompleted {
		n.Message += ` view="digest"`
	}
	return n
}
