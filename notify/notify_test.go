package notify

import (
	"strings"
	"testing"
	"time"
)

func intp(i int) *int { return &i }

func TestParseMode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    Mode
		wantErr string
	}{
		{"", ModeFailure, ""},
		{"failure", ModeFailure, ""},
		{"always", ModeAlways, ""},
		{"never", ModeNever, ""},
		{" Always\n", ModeAlways, ""},
		{"NEVER", ModeNever, ""},
		{"on-failure", "", `"on-failure"`},
		{"true", "", `want "failure", "always" or "never"`},
	} {
		got, err := ParseMode(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMode(%q) = %q, %v; want error containing %s", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestWants(t *testing.T) {
	t.Parallel()
	statuses := []string{"", "running", "completed", "failed", "killed", "timeout", "reaped"}
	want := map[Mode][]bool{
		ModeFailure: {false, false, false, true, false, true, true},
		"":          {false, false, false, true, false, true, true}, // The zero Mode is the default.
		ModeAlways:  {false, false, true, true, true, true, true},
		ModeNever:   {false, false, false, false, false, false, false},
	}
	for m, ws := range want {
		for i, s := range statuses {
			if got := m.Wants(s); got != ws[i] {
				t.Errorf("Mode(%q).Wants(%q) = %v, want %v", m, s, got, ws[i])
			}
		}
	}
}

func TestTitle(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ev   Event
		want string
	}{
		{Event{Label: "tests", Status: "failed", ExitCode: intp(1)}, "✗ tests failed (exit 1)"},
		{Event{Label: "worker", Status: StatusRestarting, ExitCode: intp(1)}, "↻ worker exited (exit 1): restarting"},
		{Event{Label: "worker", Status: "failed", ExitCode: intp(1), Restarts: 3}, "✗ worker failed (exit 1): gave up after 3 restarts"},
		{Event{Label: "tests", Status: "failed"}, "✗ tests failed"},
		{Event{Label: "dev-server", Status: "timeout", Timeout: 120 * time.Minute}, "⏱ dev-server timed out after 2h"},
		{Event{Label: "quick", Status: "timeout", Timeout: 6 * time.Second}, "⏱ quick timed out after 6s"},
		{Event{Label: "odd", Status: "timeout", Timeout: 90 * time.Second}, "⏱ odd timed out after 1m30s"},
		{Event{Label: "none", Status: "timeout"}, "⏱ none timed out"},
		{Event{Label: "build", Status: "reaped"}, "✗ build reaped (orphaned or too old)"},
		{Event{Label: "build", Status: "completed", ExitCode: intp(0)}, "✓ build completed"},
		{Event{Label: "srv", Status: "killed"}, "■ srv killed"},
		{Event{TaskID: "a1b2", Status: "failed", ExitCode: intp(2)}, "✗ a1b2 failed (exit 2)"},
		{Event{Status: "failed", ExitCode: intp(-1)}, "✗ task failed (exit -1)"},
		{Event{Label: "x", Status: "weird"}, "x weird"},
		{Event{Label: "two\nlines", Status: "failed"}, "✗ two lines failed"},
	} {
		if got := Title(tt.ev); got != tt.want {
			t.Errorf("Title(%+v) = %q, want %q", tt.ev, got, tt.want)
		}
	}
}

func TestBody(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 300)
	for _, tt := range []struct {
		name string
		ev   Event
		want string
	}{
		{"all fields", Event{Command: "npm test", Duration: 123 * time.Second, LastLine: "FAIL src/a.test.ts"},
			"$ npm test\nran for 2m3s\nlast line: FAIL src/a.test.ts"},
		{"empty", Event{}, ""},
		{"sub-second", Event{Command: "true", Duration: 1500 * time.Microsecond}, "$ true\nran for 2ms"},
		{"hours", Event{Duration: 2*time.Hour + 5*time.Second + 400*time.Millisecond}, "ran for 2h0m5s"},
		{"multi-line command, control characters", Event{Command: "set -e\nmake\tall\x07", LastLine: "  done  "},
			"$ set -e make all\nlast line: done"},
		{"invalid UTF-8", Event{LastLine: "bad \xff byte"}, "last line: bad \uFFFD byte"},
		{"shortened", Event{LastLine: long}, "last line: " + strings.Repeat("é", 199) + "…"},
	} {
		if got := Body(tt.ev); got != tt.want {
			t.Errorf("%s: Body = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestHookEnv(t *testing.T) {
	t.Parallel()
	env := hookEnv([]string{"PATH=/bin", "BG_TASK_ID=inherited"},
		Event{TaskID: "t1", Label: "tests", Status: "failed", ExitCode: intp(3), LastLine: "a\x00b", Command: "make"},
		"title", "body")
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v // Later entries win, as in os/exec.
	}
	for k, v := range map[string]string{
		"PATH": "/bin", "BG_TASK_ID": "t1", "BG_TASK_LABEL": "tests", "BG_TASK_STATUS": "failed",
		"BG_TASK_EXIT_CODE": "3", "BG_TASK_LAST_LINE": "ab", "BG_TASK_COMMAND": "make",
		"BG_NOTIFY_TITLE": "title", "BG_NOTIFY_BODY": "body",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	env = hookEnv(nil, Event{Status: "timeout"}, "", "")
	for _, kv := range env {
		if kv == "BG_TASK_EXIT_CODE=" {
			return
		}
	}
	t.Errorf("no exit code: env %q lacks an empty BG_TASK_EXIT_CODE", env)
}

// A timeout reads the same everywhere it is shown (bgtask run, the
// notification, the agent's notices): exact, in the largest units.
func TestFormatTimeout(t *testing.T) {
	for d, want := range map[time.Duration]string{30 * time.Second: "30s", time.Minute: "1m", 90 * time.Second: "1m30s",
		4 * time.Hour: "4h", 150 * time.Minute: "2h30m", 48 * time.Hour: "2d", 120 * time.Minute: "2h", 0: "0s",
		6 * time.Millisecond: "6ms", 500 * time.Millisecond: "500ms"} {
		if got := FormatTimeout(d); got != want {
			t.Errorf("FormatTimeout(%s) = %q, want %q", d, got, want)
		}
	}
}

// A restart after a clean exit (restart=always) is told only in the
// always mode; after a failing one, in the failure mode too.
func TestRestartAfterACleanExitIsNoFailure(t *testing.T) {
	zero, three := 0, 3
	for _, c := range []struct {
		mode Mode
		code *int
		want bool
	}{{ModeFailure, &zero, false}, {ModeAlways, &zero, true}, {ModeFailure, &three, true}, {ModeNever, &three, false}} {
		if got := c.mode.wantsEvent(Event{Status: StatusRestarting, ExitCode: c.code}); got != c.want {
			t.Errorf("%s, exit %d: %v, want %v", c.mode, *c.code, got, c.want)
		}
	}
}
