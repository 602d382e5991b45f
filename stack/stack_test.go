package stack

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func noEnv(string) string { return "" }

func TestProcfile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		getenv   func(string) string
		dotenv   string // replaces the fixture's .env when set
		wantPort []int
	}{
		{"foreman's ports", noEnv, "", []int{5000, 5100, 5200, 5300}},
		{"PORT from the environment is the base", func(k string) string { return map[string]string{"PORT": "3000"}[k] }, "", []int{3000, 3100, 3200, 3300}},
		{".env's PORT wins over the environment", func(k string) string { return map[string]string{"PORT": "3000"}[k] }, "PORT=8000\n", []int{8000, 8100, 8200, 8300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			b, err := os.ReadFile("testdata/rails/Procfile")
			if err != nil {
				t.Fatal(err)
			}
			must(t, os.WriteFile(filepath.Join(dir, "Procfile"), b, 0o600))
			env, err := os.ReadFile("testdata/rails/.env")
			if err != nil {
				t.Fatal(err)
			}
			if tc.dotenv != "" {
				env = []byte(tc.dotenv)
			}
			must(t, os.WriteFile(filepath.Join(dir, ".env"), env, 0o600))
			s, err := Load(filepath.Join(dir, "Procfile"), tc.getenv)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Names(); !slices.Equal(got, []string{"web", "worker", "css", "release"}) {
				t.Fatalf("names = %q", got)
			}
			for i, v := range s.Services {
				if v.Port != tc.wantPort[i] || lookupEnv(v.Env, "PORT") != strconv.Itoa(tc.wantPort[i]) {
					t.Errorf("%s: Port %d, env PORT %q; want %d", v.Name, v.Port, lookupEnv(v.Env, "PORT"), tc.wantPort[i])
				}
				if v.Dir != dir || v.Probe != nil || v.Restart.Policy != RestartNo {
					t.Errorf("%s: %+v", v.Name, v)
				}
			}
			if got := s.Service("web").Command; got != "bundle exec rails server -p $PORT" {
				t.Errorf("web command %q", got)
			}
		})
	}
}

func TestDotEnv(t *testing.T) {
	t.Parallel()
	s, err := Load("testdata/rails/Procfile", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"RAILS_ENV=development", "REDIS_URL=redis://localhost:6379/1", `SECRET_KEY_BASE=abc"def`, "GREETING=hello # not a comment", "LOG_LEVEL=debug", "PORT=5000"}
	if got := s.Service("web").Env; !slices.Equal(got, want) {
		t.Errorf("env = %q\nwant %q", got, want)
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	s, err := Load("testdata/monorepo/process-compose.yaml", noEnv)
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
	if pg.Restart != (Restart{Policy: RestartOnFailure, Backoff: 2 * time.Second}) || pg.Dir != dir || pg.Line != 9 {
		t.Errorf("postgres = %+v", pg)
	}
	api := s.Service("api")
	if api.Dir != filepath.Join(dir, "packages/api") || !slices.Equal(api.Env, []string{"NODE_ENV=development", "PORT=4000", "DATABASE_URL=postgres://localhost:5432/app"}) {
		t.Errorf("api dir %s env %q", api.Dir, api.Env)
	}
	if api.Probe == nil || api.Probe.HTTP == nil || api.Probe.HTTP.URL() != "http://127.0.0.1:4000/health" ||
		api.Probe.Period != 2*time.Second || api.Probe.Timeout != DefaultTimeout || api.Probe.FailureThreshold != DefaultFailureThreshold {
		t.Errorf("api probe = %+v", api.Probe)
	}
	if api.Restart != (Restart{Policy: RestartAlways, MaxRestarts: 5, Backoff: 500 * time.Millisecond}) {
		t.Errorf("api restart = %+v", api.Restart)
	}
	if want := []Dependency{{Name: "migrate", Condition: CompletedSuccessfully, Line: 36}}; !slices.Equal(api.DependsOn, want) {
		t.Errorf("api depends_on = %+v", api.DependsOn)
	}
	if web := s.Service("web"); !slices.Equal(web.Env, []string{"NODE_ENV=development", "VITE_API_URL=http://localhost:4000"}) || web.Restart.Policy != RestartNo {
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
	s, err := Load("testdata/monorepo/process-compose.yaml", noEnv)
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
	var ue *UnknownError
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
		s, err := Load(filepath.Join("testdata/bad", e.Name()), noEnv)
		var se *Error
		if s != nil || !errors.As(err, &se) {
			t.Errorf("%s: got stack %v, error %v; want an *Error and no stack", e.Name(), s, err)
			continue
		}
		if se.Line == 0 && !strings.Contains(e.Name(), "empty") {
			t.Errorf("%s: no line in %v", e.Name(), err)
		}
		lines = append(lines, strings.ReplaceAll(err.Error(), abs+"/", ""))
	}
	golden(t, "testdata/bad/errors.golden", strings.Join(lines, "\n")+"\n")
}

func TestFind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	deep := filepath.Join(dir, "a", "b", "c")
	must(t, os.MkdirAll(deep, 0o700))
	if _, err := Find(deep); !errors.Is(err, ErrNoFile) {
		t.Fatalf("Find with no file = %v", err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "Procfile"), []byte("web: x\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "a", "Procfile"), []byte("web: x\n"), 0o600))
	if got, err := Find(deep); err != nil || got != filepath.Join(dir, "a", "Procfile") {
		t.Errorf("Find = %q, %v; want the nearest parent's", got, err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "a", "process-compose.yml"), []byte("processes: {web: {command: x}}\n"), 0o600))
	if got, _ := Find(deep); got != filepath.Join(dir, "a", "process-compose.yml") {
		t.Errorf("Find = %q; want process-compose.yml before the Procfile beside it", got)
	}
	must(t, os.WriteFile(filepath.Join(deep, "process-compose.yaml"), []byte("processes: {web: {command: x}}\n"), 0o600))
	if got, _ := Find(deep); got != filepath.Join(deep, "process-compose.yaml") {
		t.Errorf("Find = %q; want the folder's own", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/rails/Procfile", "testdata/monorepo/process-compose.yaml", "testdata/bad/cycle.yaml", "testdata/bad/syntax.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("processes: &a {x: *a}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range []func() (*Stack, error){
			func() (*Stack, error) { return parseProcfile("Procfile", b, nil, noEnv) },
			func() (*Stack, error) { return parseCompose("process-compose.yaml", b) },
		} {
			s, err := parse()
			if err != nil {
				var se *Error
				if s != nil || !errors.As(err, &se) {
					t.Fatalf("error %v (%T) with stack %v", err, err, s)
				}
				continue
			}
			if len(s.Services) == 0 {
				t.Fatal("a stack without services")
			}
			if err := s.check(); err == nil {
				if _, err := s.Plan(); err != nil {
					t.Fatalf("Plan of a checked stack: %v", err)
				}
			}
		}
		_, _ = parseDotEnv(".env", b)
	})
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		must(t, os.WriteFile(path, []byte(got), 0o600))
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
