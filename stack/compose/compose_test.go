package compose_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack/compose"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func noEnv(string) string { return "" }

func TestCompose(t *testing.T) {
	t.Parallel()
	s, err := stack.Load("testdata/monorepo/process-compose.yaml", noEnv, compose.Parse)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata/monorepo")
	if got := s.Names(); !slices.Equal(got, []string{"postgres", "migrate", "api", "web", "storybook"}) {
		t.Fatalf("names = %q", got)
	}
	pg := s.Service("postgres")
	if pg.Probe == nil || pg.Probe.Exec != "pg_isready -h 127.0.0.1 -p 5432" || pg.Probe.InitialDelay != time.Second ||
		pg.Probe.Period != time.Second || pg.Probe.Timeout != 2*time.Second || pg.Probe.FailureThreshold != 30 {
		t.Errorf("postgres probe = %+v", pg.Probe)
	}
	if pg.Restart != (stack.Restart{Policy: stack.RestartOnFailure, Backoff: 2 * time.Second}) || pg.Dir != dir || pg.Line != 9 {
		t.Errorf("postgres = %+v", pg)
	}
	api := s.Service("api")
	if api.Dir != filepath.Join(dir, "packages/api") || !slices.Equal(api.Env, []string{"NODE_ENV=development", "PORT=4000", "DATABASE_URL=postgres://localhost:5432/app"}) {
		t.Errorf("api dir %s env %q", api.Dir, api.Env)
	}
	if api.Probe == nil || api.Probe.HTTP == nil || api.Probe.HTTP.URL() != "http://127.0.0.1:4000/health" ||
		api.Probe.Period != 2*time.Second || api.Probe.Timeout != stack.DefaultTimeout || api.Probe.FailureThreshold != stack.DefaultFailureThreshold {
		t.Errorf("api probe = %+v", api.Probe)
	}
	if api.Restart != (stack.Restart{Policy: stack.RestartAlways, MaxRestarts: 5, Backoff: 500 * time.Millisecond}) {
		t.Errorf("api restart = %+v", api.Restart)
	}
	if want := []stack.Dependency{{Name: "migrate", Condition: stack.CompletedSuccessfully, Line: 36}}; !slices.Equal(api.DependsOn, want) {
		t.Errorf("api depends_on = %+v", api.DependsOn)
	}
	if web := s.Service("web"); !slices.Equal(web.Env, []string{"NODE_ENV=development", "VITE_API_URL=http://localhost:4000"}) || web.Restart.Policy != stack.RestartNo {
		t.Errorf("web = %+v", web)
	}
	if !s.Service("storybook").Disabled {
		t.Error("storybook not disabled")
	}
	var notes []string
	for _, n := range s.Ignored {
		notes = append(notes, n.String())
	}
	golden(t, "testdata/monorepo/ignored.golden", strings.Join(notes, "\n")+"\n")
}

func TestPlan(t *testing.T) {
	t.Parallel()
	s, err := stack.Load("testdata/monorepo/process-compose.yaml", noEnv, compose.Parse)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{nil, "postgres migrate api web"},
		{[]string{"web"}, "postgres migrate api web"},
		{[]string{"api"}, "postgres migrate api"},
		{[]string{"storybook", "migrate"}, "storybook postgres migrate"},
		{[]string{"postgres", "postgres"}, "postgres"},
	} {
		plan, err := s.Plan(tc.names...)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range plan {
			got = append(got, v.Name)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("Plan(%q) = %q, want %q", tc.names, got, tc.want)
		}
	}
	_, err = s.Plan("api", "redis")
	var ue *stack.UnknownError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `declares no service "redis" (declared: postgres, migrate, api, web, storybook)`) {
		t.Errorf("Plan(redis) = %v", err)
	}
}

// TestBadFiles checks the one error line each bad file gets, against
// testdata/bad/errors.golden: the file, the line and what is wrong.
func TestBadFiles(t *testing.T) {
	t.Parallel()
	ents, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("testdata/bad")
	var lines []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".golden") {
			continue
		}
		s, err := stack.Load(filepath.Join("testdata/bad", e.Name()), noEnv, compose.Parse)
		var se *stack.Error
		if s != nil || !errors.As(err, &se) {
			t.Errorf("%s: got stack %v, error %v; want an *stack.Error and no stack", e.Name(), s, err)
			continue
		}
		if se.Line == 0 && !strings.Contains(e.Name(), "empty") {
			t.Errorf("%s: no line in %v", e.Name(), err)
		}
		lines = append(lines, strings.ReplaceAll(err.Error(), abs+"/", ""))
	}
	golden(t, "testdata/bad/errors.golden", strings.Join(lines, "\n")+"\n")
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/monorepo/process-compose.yaml", "testdata/bad/cycle.yaml", "testdata/bad/syntax.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("processes: &a {x: *a}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := compose.Parse("process-compose.yaml", b)
		if err != nil {
			var se *stack.Error
			if s != nil || !errors.As(err, &se) {
				t.Fatalf("error %v (%T) with stack %v", err, err, s)
			}
			return
		}
		if len(s.Services) == 0 {
			t.Fatal("a stack without services")
		}
		if err := s.Check(); err == nil {
			if _, err := s.Plan(); err != nil {
				t.Fatalf("Plan of a checked stack: %v", err)
			}
		}
	})
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
