package toolbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/reaplist"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// execute runs a tool as the protocols do and decodes the answer.
func execute(t *testing.T, a *App, tool *Tool, params string) map[string]any {
	t.Helper()
	raw, err := a.Execute(context.Background(), tool, []byte(params))
	if err != nil {
		t.Fatalf("%s %s: %v", tool.Name, params, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s answered invalid JSON %s: %v", tool.Name, raw, err)
	}
	return m
}

func noticesOf(m map[string]any) []string {
	var out []string
	list, _ := m["notices"].([]any)
	for _, n := range list {
		out = append(out, n.(map[string]any)["message"].(string))
	}
	return out
}

func TestNoticesTellEachEndOncePerThread(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-main")
	// Each task ends only after bg_run answered: an answer that already
	// says it ended counts as telling the thread.
	gate := filepath.Join(t.TempDir(), "go")
	r := execute(t, a, RunTool(), `{"command":"until [ -e `+gate+` ]; do sleep 0.02; done; echo testing; exit 1","label":"tests"}`)
	if len(noticesOf(r)) != 0 {
		t.Fatalf("first call has notices: %v", r["notices"])
	}
	id := r["task_id"].(string)
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitEnd(t, a.Store, id)

	st := execute(t, a, StatusTool(), `{}`)
	got := noticesOf(st)
	if len(got) != 1 || !strings.HasPrefix(got[0], "tests failed (exit 1) ") || !strings.Contains(got[0], id) {
		t.Fatalf("notices %q, want the failed tests once", got)
	}
	if n := st["notices"].([]any)[0].(map[string]any); n["status"] != "failed" || n["exit_code"] != 1.0 || n["label"] != "tests" {
		t.Fatalf("notice fields %v", n)
	}
	if again := noticesOf(execute(t, a, StatusTool(), `{}`)); len(again) != 0 {
		t.Fatalf("told twice: %q", again)
	}

	// Another thread keeps its own memory; a call about the task itself
	// needs no notice of it.
	other := newTestApp(t)
	other.Store = a.Store
	other.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-other")
	execute(t, other, StatusTool(), `{}`) // First call of T-other.
	gate = filepath.Join(t.TempDir(), "go")
	r2 := execute(t, a, RunTool(), `{"command":"until [ -e `+gate+` ]; do sleep 0.02; done","label":"lint"}`)
	if r2["status"] != supervisor.StatusRunning {
		t.Fatalf("lint answered %v", r2)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitEnd(t, a.Store, r2["task_id"].(string))
	if got := noticesOf(execute(t, other, OutputTool(), `{"task_id":"`+r2["task_id"].(string)+`"}`)); len(got) != 0 {
		t.Fatalf("bg_output about the task itself carried its notice: %q", got)
	}
	if got := noticesOf(execute(t, a, StatusTool(), `{}`)); len(got) != 1 || !strings.HasPrefix(got[0], "lint completed") {
		t.Fatalf("main thread notices %q", got)
	}
}

func TestExecuteSplicesNoticesIntoNestedObjects(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	execute(t, a, StatusTool(), `{}`) // First call.
	r := execute(t, a, RunTool(), `{"command":"exit 3"}`)
	tasktest.WaitEnd(t, a.Store, r["task_id"].(string))
	st := execute(t, a, StatusTool(), `{}`) // {"tasks":[...],"summary":{...}} ends in "}}".
	if len(noticesOf(st)) != 1 || st["summary"].(map[string]any)["total"] != 1.0 {
		t.Fatalf("answer %v", st)
	}
}

// A notice never repeats what the call's own answer (or an earlier one)
// said, and never points at a task that is gone.
func TestNoticesSkipWhatTheReaderKnows(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-known")
	execute(t, a, StatusTool(), `{}`) // First call.
	// A bg_run that waited for the end already gave the failure's digest.
	r := execute(t, a, RunTool(), `{"command":"echo boom; exit 2","label":"tests","wait_seconds":30}`)
	if r["status"] != "failed" {
		t.Fatalf("the run did not end in its wait: %v", r)
	}
	if got := noticesOf(execute(t, a, StatusTool(), `{}`)); len(got) != 0 {
		t.Fatalf("the failure the run answered is announced again: %q", got)
	}
	// The agent stops its server and cleans up: it is told nothing about
	// either, and nothing points at the deleted task.
	web := execute(t, a, RunTool(), `{"command":"exec sleep 60","label":"web"}`)
	execute(t, a, StopTool(), `{"task_id":"`+web["task_id"].(string)+`"}`)
	c := execute(t, a, StopTool(), `{"action":"cleanup"}`)
	if got := noticesOf(c); len(got) != 0 {
		t.Fatalf("cleanup announced %q", got)
	}
	if got := noticesOf(execute(t, a, StatusTool(), `{}`)); len(got) != 0 {
		t.Fatalf("after stop and cleanup: %q", got)
	}
}

// TestNoticesSkipWhatTheCallerEnded: a bg_run with replace=true stops the
// running task of that label itself; no notice announces that end, in
// that answer or a later one.
func TestNoticesSkipWhatTheCallerEnded(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-replace")
	execute(t, a, StatusTool(), `{}`) // First call.
	old := execute(t, a, RunTool(), `{"command":"exec sleep 60","label":"web"}`)
	r := execute(t, a, RunTool(), `{"command":"exec sleep 60","label":"web","replace":true}`)
	defer execute(t, a, StopTool(), `{"task_id":"`+r["task_id"].(string)+`"}`)
	got := noticesOf(r)
	got = append(got, noticesOf(execute(t, a, StatusTool(), `{}`))...)
	for _, n := range got {
		if strings.Contains(n, old["task_id"].(string)) {
			t.Fatalf("the task the caller replaced is announced: %q", got)
		}
	}
}

// A command its restart policy gave up on is told once, with how many
// restarts it had: not once per crash.
func TestNoticeOfGivingUp(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := execute(t, a, RunTool(), `{"command":"echo crashing; exit 4","label":"flaky","restart":"always","max_restarts":2,"backoff_seconds":0.1}`)
	id := r["task_id"].(string)
	tasktest.WaitEnd(t, a.Store, id)
	got := noticesOf(execute(t, a, StatusTool(), `{}`))
	if len(got) != 1 || !strings.HasPrefix(got[0], "flaky failed (exit 4): gave up after 2 restarts ") {
		t.Fatalf("notices %q, want one that gave up after 2 restarts", got)
	}
	if again := noticesOf(execute(t, a, StatusTool(), `{}`)); len(again) != 0 {
		t.Fatalf("told twice: %q", again)
	}
}

// startRestarted starts "worker", which its restart policy runs again
// after it exits 3 once, and returns bg_run's answer and the task's id
// once it has restarted. Its second run hangs.
func startRestarted(t *testing.T, a *App) (map[string]any, string) {
	t.Helper()
	flag := filepath.Join(t.TempDir(), "crashed")
	cmd := fmt.Sprintf("if [ -e %s ]; then %s; fi; touch %s; exit 3", flag, helpers.Shell("hang"), flag)
	raw, _ := json.Marshal(map[string]any{"command": cmd, "label": "worker", "restart": "on_failure", "backoff_seconds": 0.1})
	r := execute(t, a, RunTool(), string(raw))
	id := r["task_id"].(string)
	tasktest.WaitFor(t, "the restart", func() bool { return a.Store.RestartsOf(id) == 1 })
	return r, id
}

// A command its restart policy runs again is told once as restarting,
// with the exit code, while it runs on under the same id.
func TestNoticeOfRestarting(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r, _ := startRestarted(t, a)
	// bg_run gathers notices while its supervisor starts: on a loaded
	// machine that scan can run after the first restart, and then bg_run's
	// own answer is where the notice is told.
	got := append(noticesOf(r), noticesOf(execute(t, a, StatusTool(), `{}`))...)
	if len(got) != 1 || !strings.HasPrefix(got[0], "worker exited (exit 3) and is restarting under the same id (restart: on_failure; 1 so far)") {
		t.Fatalf("notices %q, want worker restarting once", got)
	}
	if again := noticesOf(execute(t, a, StatusTool(), `{}`)); len(again) != 0 {
		t.Fatalf("told twice: %q", again)
	}
}

// A reader's memory holds the ends it was told, not every end it ever
// saw: with a thousand tasks kept, each call read and rewrote a thousand
// lines. Ends the listing dates before the reader's first call are old
// news by date alone.
func TestNoticeMemoryHoldsNoOldNews(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-memory")
	fakeFinished(t, a.Store.Dir, 40) // Ended a minute ago.
	memory := func() []string {
		b, err := os.ReadFile(a.noticePath(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")[1:] // After the first call's time.
	}
	for i := range 2 { // The first call lists them all; the second knows them from the ended index.
		if got := noticesOf(execute(t, a, StatusTool(), `{}`)); len(got) != 0 {
			t.Fatalf("call %d told old news: %q", i+1, got)
		}
	}
	if m := memory(); len(m) != 0 {
		t.Fatalf("memory holds %d old ends: %q", len(m), m)
	}

	r := execute(t, a, RunTool(), `{"command":"exit 4","label":"late"}`)
	id := r["task_id"].(string)
	tasktest.WaitEnd(t, a.Store, id)
	if got := noticesOf(execute(t, a, StatusTool(), `{}`)); len(got) != 1 || !strings.Contains(got[0], id) {
		t.Fatalf("the new end was not told once: %q", got)
	}
	if m := memory(); len(m) != 1 || keyID(m[0]) != id {
		t.Fatalf("memory %q, want just %s", m, id)
	}
	toldNothingMore(t, a)
}

// toldNothingMore checks that the next two lists of a reader tell it
// nothing: the first finds the ends in the ended index it then writes,
// the second only there.
func toldNothingMore(t *testing.T, a *App) {
	t.Helper()
	for i := range 2 {
		if again := noticesOf(execute(t, a, StatusTool(), `{}`)); len(again) != 0 {
			t.Fatalf("told again on call %d: %q", i+1, again)
		}
	}
}

// A task run again under its id (bgtask restart) that ends again is news
// again: the memory names an end by its id and time, not the id alone.
func TestNoticesTellARestartedTasksNewEnd(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-restart")
	execute(t, a, StatusTool(), `{}`) // First call.
	gate := filepath.Join(t.TempDir(), "go")
	// Each run waits for the gate, then fails; the gate is removed
	// before the restart, so the second run waits again.
	r := execute(t, a, RunTool(), `{"command":"until [ -e `+gate+` ]; do sleep 0.02; done; echo boom; exit 3","label":"flaky"}`)
	id := r["task_id"].(string)
	endRun := func() {
		t.Helper()
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		tasktest.WaitEnd(t, a.Store, id)
	}
	endRun()
	if got := noticesOf(execute(t, a, StatusTool(), `{}`)); len(got) != 1 || !strings.Contains(got[0], id) {
		t.Fatalf("first end: %q", got)
	}
	// Ends are dated to the second: the second run must end in a later one.
	first := a.Store.EndedAt(id)
	tasktest.WaitFor(t, "a new second", func() bool { return time.Now().Truncate(time.Second).After(first) })
	if err := os.Remove(gate); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Restart(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	endRun()
	got := noticesOf(execute(t, a, StatusTool(), `{}`))
	if len(got) != 1 || !strings.HasPrefix(got[0], "flaky failed (exit 3)") {
		t.Fatalf("the restarted run's end: %q, want it told once", got)
	}
	toldNothingMore(t, a)
}

// Agents make parallel calls: of several calls of one reader at once,
// one tells an end, and only once.
func TestParallelCallsOfOneReaderTellAnEndOnce(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-parallel")
	execute(t, a, StatusTool(), `{}`) // First call.
	for round := range 3 {
		r := execute(t, a, RunTool(), fmt.Sprintf(`{"command":"exit 5","label":"p%d"}`, round))
		id := r["task_id"].(string)
		tasktest.WaitEnd(t, a.Store, id)
		var wg sync.WaitGroup
		told := make([]int, 6)
		for i := range told {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// An App of its own per call, as each toolbox call is a process.
				b := NewAppIn(a.Store.Dir, a.Wd, a.Environ, strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
				b.Getenv, b.Executable = a.Getenv, a.Executable
				raw, err := b.Execute(context.Background(), StatusTool(), []byte(`{"port":1}`))
				if err != nil {
					t.Error(err)
					return
				}
				if strings.Contains(string(raw), `"task_id":"`+id+`"`) {
					told[i] = 1
				}
			}()
		}
		wg.Wait()
		if n := len(slices.DeleteFunc(slices.Clone(told), func(c int) bool { return c == 0 })); n != 1 {
			t.Fatalf("round %d: the end of %s was told %v times across 6 parallel calls, want once", round, id, told)
		}
	}
}

// A memory that only gains keys is saved by appending them, in place: a
// reader of the file finds the same memory as after a rewrite. One that
// drops a key, or starts again, is rewritten whole.
func TestNoticeMemoryAppendsWhatItGains(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "reader")
	since := time.Date(2026, 12, 7, 16, 0, 0, 123, time.UTC)
	first := &noticeState{path: path, since: since, seen: []string{"task-1796660000-aaaaaaaa 1796660001", "task-1796660000-bbbbbbbb"}}
	if err := first.save(); err != nil {
		t.Fatal(err)
	}
	inode := func() uint64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	load := func() *noticeState {
		st, err := loadNoticeState(path)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	was, before := inode(), tasktest.ReadFile(t, path)

	onDisk := load()
	gained := onDisk.clone()
	gained.seen = append(gained.seen, "task-1796660002-cccccccc 1796660003")
	if err := gained.saveOver(onDisk); err != nil {
		t.Fatal(err)
	}
	if got := tasktest.ReadFile(t, path); got != before+"task-1796660002-cccccccc 1796660003\n" || inode() != was {
		t.Errorf("a gain was not appended in place: %q", got)
	}
	if got := load(); !got.since.Equal(since) || !slices.Equal(got.seen, gained.seen) {
		t.Errorf("read back: %v %q, want %v %q", got.since, got.seen, since, gained.seen)
	}

	onDisk = load()
	dropped := onDisk.clone()
	dropped.seen = dropped.seen[1:]
	if err := dropped.saveOver(onDisk); err != nil {
		t.Fatal(err)
	}
	if got := load(); !slices.Equal(got.seen, dropped.seen) || got.lines != len(dropped.seen)+1 {
		t.Errorf("a memory that dropped a key reads %q (%d lines), want %q", got.seen, got.lines, dropped.seen)
	}
	if inode() == was {
		t.Error("a memory that dropped a key was not rewritten")
	}
}

// A reader whose first call comes just after a task ended (before the
// ended index dates it) is still told the ends of the task's later runs:
// its memory keeps that end with its time, not the id alone, which stood
// for every end (a trial's finding).
func TestAReadersFirstCallDatesTheEndsItSkips(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	r := execute(t, a, RunTool(), `{"command":"exit 1","label":"once"}`)
	id := r["task_id"].(string)
	tasktest.WaitEnd(t, a.Store, id)

	reader := newTestApp(t)
	reader.Store = a.Store
	reader.Getenv = withEnv(reader.Getenv, "AMP_THREAD_ID", "T-late")
	if got := noticesOf(execute(t, reader, StatusTool(), `{}`)); len(got) != 0 {
		t.Fatalf("a first call told %q", got)
	}
	first := a.Store.EndedAt(id)
	tasktest.WaitFor(t, "a new second", func() bool { return time.Now().Truncate(time.Second).After(first) })
	if _, _, err := a.Restart(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	tasktest.WaitFor(t, "the second run's end", func() bool {
		// finished_at is written before the status: both, or the
		// reader may still see it running.
		cur, err := a.Store.Load(id)
		return a.Store.EndedAt(id).After(first) && err == nil && cur.Status != supervisor.StatusRunning
	})
	if got := noticesOf(execute(t, reader, StatusTool(), `{}`)); len(got) != 1 || !strings.Contains(got[0], id) {
		t.Fatalf("the second run's end was told %q, want once", got)
	}
}

// Of parallel calls of one reader, one tells a task restarting (a trial
// saw it told twice in 2 batches of 10).
func TestParallelCallsOfOneReaderTellARestartOnce(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-restarts")
	execute(t, a, StatusTool(), `{}`) // First call.
	r, _ := startRestarted(t, a)
	told := noticesOf(r) // bg_run's own answer may tell it (see TestNoticeOfRestarting).
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := noticesOf(execute(t, a, StatusTool(), `{}`))
			mu.Lock()
			told = append(told, got...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(told) != 1 || !strings.HasPrefix(told[0], "worker exited (exit 3) and is restarting") {
		t.Fatalf("told %q, want the restart once", told)
	}
}

// A call of a process that answers many calls leaves the ends its
// listing read one by one to the ended index, after its answer, once
// they are laterIndexMin or more: the next call reads them from there. A
// call that failed leaves nothing.
func TestACallLeavesItsListedEndsToTheIndex(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	runLater, pending := keepForLater(a)
	indexed := func(id string) bool {
		b, _ := os.ReadFile(filepath.Join(a.Store.Dir, reaplist.EndedIndex))
		return strings.Contains(string(b), id)
	}
	id := execute(t, a, RunTool(), `{"command":"exit 3"}`)["task_id"].(string)
	tasktest.WaitEnd(t, a.Store, id)
	runLater() // The run's own listing: before its task ended.
	if indexed(id) {
		t.Fatal("indexed before a listing saw it end")
	}
	if _, err := a.Execute(context.Background(), RunTool(), []byte(`{}`)); err == nil {
		t.Fatal("bg_run {} did not fail")
	}
	if n := pending(); n != 0 {
		t.Fatalf("a failed call left %d things for later", n)
	}
	// Fewer ends to read than laterIndexMin: cheaper read than written.
	execute(t, a, OutputTool(), `{"task_id":"`+id+`"}`)
	if n := pending(); n != 0 {
		t.Fatalf("a listing that read %d ends left %d things for later", 1, n)
	}
	fakeFinished(t, a.Store.Dir, laterIndexMin-1) // With the task: laterIndexMin.
	execute(t, a, OutputTool(), `{"task_id":"`+id+`"}`)
	if indexed(id) {
		t.Fatal("indexed during the call, before its answer")
	}
	runLater()
	if !indexed(id) {
		t.Fatal("the call's listing did not leave the ends to the index")
	}
}

// The notices' lock is shared by every reader of the store: a call
// leaves it free when it returns its answer, even where work is left for
// after the answer (App.Later). Held until then, a caller that did not
// read its answer (a full pipe, a paused terminal) stalled every other
// thread's calls (a trial's finding).
func TestNoticesLockIsFreeOnceACallAnswers(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-lock")
	runLater, _ := keepForLater(a)
	t.Cleanup(runLater)
	execute(t, a, StatusTool(), `{}`) // The reader's first call.
	runLater()
	id := execute(t, a, RunTool(), `{"command":"exit 4"}`)["task_id"].(string)
	runLater()
	tasktest.WaitEnd(t, a.Store, id)
	other := execute(t, a, RunTool(), `{"command":"exit 5"}`)["task_id"].(string)
	runLater()
	tasktest.WaitEnd(t, a.Store, other)
	// The call that tells an end; what it left for later is not run yet.
	if got := noticesOf(execute(t, a, StatusTool(), `{"task_id":"`+id+`"}`)); len(got) != 1 {
		t.Fatalf("notices %q, want the other task's end", got)
	}
	dir := filepath.Join(a.Store.Dir, ".notices")
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("the notices' lock is still held after the answer: %v", err)
	}
}

// keepForLater makes a's App.Later keep what calls leave for after their
// answers, as the call server does until AfterCall: run runs it, pending
// counts it.
func keepForLater(a *App) (run func(), pending func() int) {
	var later []func()
	a.Later = func(f func()) { later = append(later, f) }
	run = func() {
		for _, f := range later {
			f()
		}
		later = nil
	}
	return run, func() int { return len(later) }
}
