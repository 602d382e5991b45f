package stack

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/envlist"
)

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
			s, err := Load(filepath.Join(dir, "Procfile"), tc.getenv, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Names(); !slices.Equal(got, []string{"web", "worker", "css", "release"}) {
				t.Fatalf("names = %q", got)
			}
			for i, v := range s.Services {
				if v.Port != tc.wantPort[i] || envlist.Get(v.Env, "PORT") != strconv.Itoa(tc.wantPort[i]) {
					t.Errorf("%s: Port %d, env PORT %q; want %d", v.Name, v.Port, envlist.Get(v.Env, "PORT"), tc.wantPort[i])
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
	s, err := Load("testdata/rails/Procfile", noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"RAILS_ENV=development", "REDIS_URL=redis://localhost:6379/1", `SECRET_KEY_BASE=abc"def`, "GREETING=hello # not a comment", "LOG_LEVEL=debug", "PORT=5000"}
	if got := s.Service("web").Env; !slices.Equal(got, want) {
		t.Errorf("env = %q\nwant %q", got, want)
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	deep := filepath.Join(dir, "a", "b", "c")
	must(t, os.MkdirAll(deep, 0o700))
	if _, err := Find(deep); !errors.Is(err, ErrNoFile) || !strings.Contains(err.Error(), "(from "+deep+")") {
		t.Fatalf("Find with no file = %v, want ErrNoFile naming the folder it looked from", err)
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

func FuzzProcfile(f *testing.F) {
	b, err := os.ReadFile("testdata/rails/Procfile")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("a: x\nb:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseProcfile("Procfile", b, nil, noEnv)
		if err != nil {
			var se *Error
			if s != nil || !errors.As(err, &se) {
				t.Fatalf("error %v (%T) with stack %v", err, err, s)
			}
		} else if len(s.Services) == 0 {
			t.Fatal("a stack without services")
		} else if err := s.Check(); err != nil {
			t.Fatalf("a Procfile's stack fails Check: %v", err)
		}
		_, _ = parseDotEnv(".env", b)
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
