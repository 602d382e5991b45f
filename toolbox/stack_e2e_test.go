package toolbox

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/helperproc"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack/compose"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// The three processes of the stack test, as a project's database, API and
// queue worker behave.

// dbStandIn EVENTS ADDR DELAY is a database that accepts connections
// (and answers HTTP, for its probe) only DELAY after it starts.
func dbStandIn(args []string) int {
	event(args[0], "db start")
	d, _ := time.ParseDuration(args[2])
	time.Sleep(d)
	l, err := net.Listen("tcp", args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	event(args[0], "db accepting")
	fmt.Println("database system is ready to accept connections")
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	return 1
}

// apiStandIn EVENTS DBADDR ADDR is an API that exits at once when the
// database does not accept a connection as it starts, as most do.
func apiStandIn(args []string) int {
	event(args[0], "api start")
	c, err := net.DialTimeout("tcp", args[1], time.Second)
	if err != nil {
		event(args[0], "api: no database")
		fmt.Fprintf(os.Stderr, "Error: connect ECONNREFUSED %s: the database is not accepting connections\n", args[1])
		return 1
	}
	_ = c.Close()
	l, err := net.Listen("tcp", args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	event(args[0], "api listening")
	fmt.Printf("api listening on http://%s\n", args[2])
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	return 1
}

// crashTwice EVENTS COUNT is a worker that crashes on its first two runs
// (counted in the file COUNT) and stays up from the third.
func crashTwice(args []string) int {
	b, _ := os.ReadFile(args[1])
	_ = os.WriteFile(args[1], append(b, 'x'), 0o600)
	event(args[0], fmt.Sprintf("worker run %d", len(b)+1))
	if len(b) < 2 {
		fmt.Fprintln(os.Stderr, "worker: lost connection to the queue")
		return 2
	}
	fmt.Println("worker: waiting for jobs")
	return helperproc.Hang(nil)
}

// event appends a line to the events file: the order the test checks.
func event(path, what string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintln(f, what)
}

// yamlString quotes s for a YAML file: JSON's double-quoted strings are
// YAML's too.
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The proof of services, with three real processes: the database is
// ready after a delay, the API exits at once if the database does not
// accept connections when it starts, the worker crashes twice. Started by
// service, each waits for what it depends on; two agents asking for the
// API at once start one; the worker is restarted twice under one id with
// one marker line per restart; the stack's stop leaves no process.
func TestStackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a three-service stack (several seconds)")
	}
	t.Parallel()
	a := newTestApp(t)
	a.ParseStack = compose.Parse
	events := filepath.Join(t.TempDir(), "events")
	count := filepath.Join(t.TempDir(), "worker-runs")
	dbAddr, dbPort := freeAddr(t)
	apiAddr, apiPort := freeAddr(t)
	file := fmt.Sprintf(`version: "0.5"
processes:
  db:
    command: %s
    readiness_probe:
      http_get:
        host: 127.0.0.1
        port: %d
      period_seconds: 0.2
      failure_threshold: 150
  api:
    command: %s
    depends_on:
      db:
        condition: process_healthy
    readiness_probe:
      http_get:
        host: 127.0.0.1
        port: %d
      period_seconds: 0.2
      failure_threshold: 100
  worker:
    command: %s
    depends_on:
      api:
        condition: process_healthy
    availability:
      restart: on_failure
      max_restarts: 5
      backoff_seconds: 0.2
`, yamlString(helpers.Shell("db-standin", events, dbAddr, "1500ms")), dbPort,
		yamlString(helpers.Shell("api-standin", events, dbAddr, apiAddr)), apiPort,
		yamlString(helpers.Shell("crash-twice", events, count)))
	if err := os.WriteFile(filepath.Join(a.Wd, "process-compose.yaml"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}

	// Two agents (two processes over one state folder) ask for the API at
	// once.
	b := NewAppIn(a.Store.Dir, a.Wd, a.Environ, strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
	b.Executable, b.ParseStack = a.Executable, compose.Parse
	var wg sync.WaitGroup
	answers := make([]RunResult, 2)
	for i, app := range []*App{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = call[RunResult](t, app, RunTool(), `{"service":"api","wait_seconds":90}`)
		}()
	}
	wg.Wait()
	for i, res := range answers {
		if got := serviceNames(res.Services); !slices.Equal(got, []string{"db", "api"}) {
			t.Fatalf("answer %d lists %q, want db then api:\n%+v", i, got, res)
		}
		for _, s := range res.Services {
			if !s.Ready || s.Status != supervisor.StatusRunning || s.TaskID == "" || s.Label != s.Service {
				t.Errorf("answer %d: %+v, want running and ready, labelled by its name", i, s)
			}
		}
	}
	if answers[0].TaskID != answers[1].TaskID || answers[0].TaskID == "" {
		t.Errorf("the two answers name API tasks %q and %q, want one", answers[0].TaskID, answers[1].TaskID)
	}
	if answers[0].Services[1].AlreadyRunning == answers[1].Services[1].AlreadyRunning {
		t.Errorf("already_running %v and %v: exactly one call should have started the API", answers[0].Services[1].AlreadyRunning, answers[1].Services[1].AlreadyRunning)
	}
	ev, _ := os.ReadFile(events)
	if got := strings.Split(strings.TrimSpace(string(ev)), "\n"); !slices.Equal(got, []string{"db start", "db accepting", "api start", "api listening"}) {
		t.Errorf("events %q: want the database accepting before the one API starts", got)
	}

	// The worker: the database and the API are reported, not started
	// again; the worker crashes twice and stays up under one id.
	res := call[RunResult](t, a, RunTool(), `{"service":"worker","wait_seconds":60}`)
	if got := serviceNames(res.Services); !slices.Equal(got, []string{"db", "api", "worker"}) {
		t.Fatalf("worker's answer lists %q", got)
	}
	if !res.Services[0].AlreadyRunning || !res.Services[1].AlreadyRunning || res.Services[1].TaskID != answers[0].TaskID {
		t.Errorf("db and api should be reported as already running: %+v", res.Services[:2])
	}
	// A service already running keeps the timeout it was started with:
	// the answer says that one, not the one this call asked for.
	again := call[RunResult](t, a, RunTool(), `{"service":"api","timeout":7}`)
	if again.TaskID != answers[0].TaskID || again.TimeoutMinutes != DefaultTimeoutMinutes {
		t.Errorf("api started again or misreported: task %s, timeout_minutes %v, want %s and %d", again.TaskID, again.TimeoutMinutes, answers[0].TaskID, DefaultTimeoutMinutes)
	}
	worker := res.TaskID
	var st TaskDetail
	tasktest.WaitFor(t, "the worker restarted twice and up", func() bool {
		st = call[TaskDetail](t, a, StatusTool(), fmt.Sprintf(`{"task_id":%q}`, worker))
		out, _ := os.ReadFile(filepath.Join(a.Store.Dir, worker, "stdout"))
		return st.Restarts == 2 && strings.Contains(string(out), "waiting for jobs")
	})
	if st.Status != supervisor.StatusRunning || st.TaskID != worker || st.LastExitCode == nil || *st.LastExitCode != 2 || st.Restart != "on_failure" {
		t.Errorf("worker status %+v, want running, restarts 2, last exit 2", st.TaskSummary)
	}
	out, _ := os.ReadFile(filepath.Join(a.Store.Dir, worker, "stdout"))
	if n := strings.Count(string(out), supervisor.RestartMarker); n != 2 {
		t.Errorf("%d restart markers in the worker's log, want 2:\n%s", n, out)
	}
	for _, want := range []string{"[bgtask: restart 1 of 5: exit 2,", "[bgtask: restart 2 of 5: exit 2,"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in the worker's log:\n%s", want, out)
		}
	}
	if runs, _ := os.ReadFile(count); len(runs) != 3 {
		t.Errorf("the worker ran %d times, want 3", len(runs))
	}

	// Down: dependents first, and nothing left.
	st0, err := a.loadStack(t.Context(), a.Wd)
	if err != nil {
		t.Fatal(err)
	}
	stopped, err := a.stopStack(t.Context(), st0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := serviceNames(stopped); !slices.Equal(got, []string{"worker", "api", "db"}) {
		t.Errorf("stopped in the order %q, want worker, api, db", got)
	}
	tasks, _ := a.Store.List()
	for _, task := range tasks {
		if task.Status == supervisor.StatusRunning {
			t.Errorf("%s (%s) still running after down", task.ID, task.Label)
		}
		if left := tasktest.MarkerProcs(t, task.ID); len(left) > 0 {
			t.Errorf("%s (%s) left %d process(es): %v", task.ID, task.Label, len(left), left)
		}
	}
	if len(tasks) != 3 {
		t.Errorf("%d tasks, want one per service", len(tasks))
	}
}

func serviceNames(ss []ServiceState) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Service)
	}
	return out
}

// A service already running is reported without what it depends on
// being started again: asking for the API that waited for a one-shot
// migration does not run the migration twice (a product trial found
// every "make sure api is up" re-running it).
func TestRunningServiceDoesNotRerunItsOneShotDependency(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a two-service stack")
	}
	t.Parallel()
	a := newTestApp(t)
	a.ParseStack = compose.Parse
	events := filepath.Join(t.TempDir(), "events")
	file := fmt.Sprintf(`version: "0.5"
processes:
  migrate:
    command: %s
  api:
    command: %s
    depends_on:
      migrate:
        condition: process_completed_successfully
`, yamlString("echo migrated >> '"+events+"'"), yamlString(helpers.Shell("hang")))
	if err := os.WriteFile(filepath.Join(a.Wd, "process-compose.yaml"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	first := call[RunResult](t, a, RunTool(), `{"service":"api","wait_seconds":60}`)
	if got := serviceNames(first.Services); !slices.Equal(got, []string{"migrate", "api"}) {
		t.Fatalf("first start lists %q, want migrate then api: %+v", got, first)
	}
	again := call[RunResult](t, a, RunTool(), `{"service":"api","wait_seconds":60}`)
	if got := serviceNames(again.Services); !slices.Equal(got, []string{"api"}) || !again.Services[0].AlreadyRunning || again.TaskID != first.TaskID {
		t.Errorf("second start: %q %+v, want api alone, already running as %s", got, again.Services, first.TaskID)
	}
	if strings.Contains(again.Message, "Started") {
		t.Errorf("second start says it started something: %s", again.Message)
	}
	if ev, _ := os.ReadFile(events); strings.Count(string(ev), "migrated") != 1 {
		t.Errorf("the migration ran %d times, want once", strings.Count(string(ev), "migrated"))
	}
}

// A Procfile entry that crashes as it starts (its port taken, a config
// missing) is a failure with its output, not "ready": a product trial
// found `bgtask up` printing "broken ready" for an entry that exits 3
// at once, and "web ready" for one dying on EADDRINUSE.
func TestProcfileEntryCrashingAtStartIsNotReady(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: waits for two services to settle")
	}
	t.Parallel()
	a := newTestApp(t)
	procfile := "broken: echo 'fatal: no config' >&2; exit 3\nweb: " + helpers.Shell("hang") + "\n"
	if err := os.WriteFile(filepath.Join(a.Wd, "Procfile"), []byte(procfile), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		service string
		ready   bool
		status  string
	}{
		{"broken", false, supervisor.StatusFailed},
		{"web", true, supervisor.StatusRunning},
	} {
		res := call[RunResult](t, a, RunTool(), `{"service":"`+c.service+`","wait_seconds":30}`)
		if len(res.Services) != 1 {
			t.Fatalf("%s: %+v", c.service, res.Services)
		}
		s := res.Services[0]
		if s.Ready != c.ready || s.Status != c.status {
			t.Errorf("%s: ready %v, status %s; want %v, %s (%+v)", c.service, s.Ready, s.Status, c.ready, c.status, s)
		}
		if !c.ready && (s.Stderr == nil || !strings.Contains(*s.Stderr, "fatal: no config") || !strings.Contains(s.Note, "exit 3")) {
			t.Errorf("%s: the failure should come with its output and exit code: %+v", c.service, s)
		}
	}
	// The failure was told in its answer: it is no news in the next one.
	if m := executeJSON(t, a, StatusTool(), `{}`); m["notices"] != nil {
		t.Errorf("the next call tells again: %v", m["notices"])
	}
}

// A Procfile entry whose command serves $PORT is refused when another
// program holds that port, naming it (the README's promise; a product
// trial found such an entry reported ready while it crashed); an entry
// that is only offered a PORT is started whatever holds it.
func TestProcfilePortTakenIsRefused(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	procfile := "web: " + helpers.Shell("hang") + " $PORT\nworker: " + helpers.Shell("hang") + "\n"
	for name, content := range map[string]string{"Procfile": procfile, ".env": fmt.Sprintf("PORT=%d\n", port-100)} {
		if err := os.WriteFile(filepath.Join(a.Wd, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// worker comes second: PORT+100, the port held.
	_, err = a.Execute(t.Context(), RunTool(), []byte(`{"service":"worker","wait_seconds":30}`))
	if err != nil {
		t.Fatalf("worker, offered a PORT it does not use: %v", err)
	}
	procfile = "worker: " + helpers.Shell("hang") + "\nweb: " + helpers.Shell("hang") + " $PORT\n"
	if err := os.WriteFile(filepath.Join(a.Wd, "Procfile"), []byte(procfile), 0o600); err != nil {
		t.Fatal(err)
	}
	res := call[RunResult](t, a, RunTool(), `{"service":"web","wait_seconds":30}`)
	if len(res.Services) != 1 || res.Services[0].Ready || !strings.Contains(res.Services[0].Note, fmt.Sprintf("PORT of web: port %d is already accepting connections", port)) {
		t.Errorf("web on a port another program holds: %+v", res.Services)
	}
}

// A dependency that failed is told in the answer of the start that
// needed it, with its output: the next call does not tell it again as
// news (a product trial found it did).
func TestFailedDependencyIsToldOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a stack")
	}
	t.Parallel()
	a := newTestApp(t)
	a.ParseStack = compose.Parse
	file := fmt.Sprintf(`version: "0.5"
processes:
  setup:
    command: %s
  app:
    command: %s
    depends_on:
      setup:
        condition: process_completed_successfully
`, yamlString("echo 'fatal: no config' >&2; exit 3"), yamlString(helpers.Shell("hang")))
	if err := os.WriteFile(filepath.Join(a.Wd, "process-compose.yaml"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	a.Getenv = withEnv(a.Getenv, "AMP_THREAD_ID", "T-stack")
	res := execute(t, a, RunTool(), `{"service":"app","wait_seconds":30}`)
	services, _ := res["services"].([]any)
	if len(services) != 2 || services[0].(map[string]any)["status"] != supervisor.StatusFailed || services[1].(map[string]any)["status"] != StatusNotStarted {
		t.Fatalf("services: %v", res["services"])
	}
	if got := noticesOf(execute(t, a, StatusTool(), `{}`)); len(got) != 0 {
		t.Errorf("the next call tells the failure again: %q", got)
	}
}

// A Procfile entry serving its $PORT is ready once it listens there; one
// still not listening once it has settled is ready too, said not to
// listen yet (a slow server, or a command that only prints its PORT);
// one that crashes first is not ready.
func TestProcfileEntryServingItsPortIsReadyWhenListening(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: waits for servers")
	}
	t.Parallel()
	a := newTestApp(t)
	_, port := freeAddr(t)
	procfile := "web: " + helpers.Shell("serve") + " 127.0.0.1:$PORT 300ms\n" +
		"slow: " + helpers.Shell("serve") + " 127.0.0.1:$PORT 30s\n" +
		"bad: " + helpers.Shell("serve") + " 127.0.0.1:$PORT 200ms crash\n"
	for name, content := range map[string]string{"Procfile": procfile, ".env": fmt.Sprintf("PORT=%d\n", port)} {
		if err := os.WriteFile(filepath.Join(a.Wd, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res := call[RunResult](t, a, RunTool(), `{"service":"web","wait_seconds":60}`)
	if len(res.Services) != 1 || !res.Services[0].Ready || res.Services[0].Note != "" {
		t.Fatalf("web: %+v", res.Services)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("web said ready, but port %d refuses: %v", port, err)
	}
	_ = c.Close()
	res = call[RunResult](t, a, RunTool(), `{"service":"slow","wait_seconds":60}`)
	if len(res.Services) != 1 || !res.Services[0].Ready || res.Services[0].Note != fmt.Sprintf("running, but not listening on its PORT %d yet", port+100) {
		t.Errorf("slow: %+v", res.Services)
	}
	res = call[RunResult](t, a, RunTool(), `{"service":"bad","wait_seconds":60}`)
	if len(res.Services) != 1 || res.Services[0].Ready || res.Services[0].Status != supervisor.StatusFailed {
		t.Errorf("bad: %+v", res.Services)
	}
}
