package toolbox

import (
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/notify"
	"github.com/amp-bg-tasks/amp-bg-tasks/procs"
)

// Every BG_* setting follows one rule: unset or empty is the default, a
// good value is read, a bad one is an error naming the variable.
func TestSettingsOneRule(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string { return EnvGetter(kv) }
	s, err := ReadSettings(env())
	if err != nil || s.KillGrace != procs.DefaultGrace || s.NotifyTimeout != DefaultNotifyTimeout || s.Notify != notify.ModeFailure || s.Log.MaxBytes != 0 || s.Log.Backups != 0 {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	s, err = ReadSettings(env("BG_KILL_GRACE=0.5", "BG_NOTIFY_TIMEOUT=30", "BG_LOG_MAX_MB=2", "BG_LOG_BACKUPS=0", "BG_NOTIFY=Always", "BG_NOTIFY_CMD=notify-me"))
	if err != nil || s.KillGrace != 500*time.Millisecond || s.NotifyTimeout != 30*time.Second || s.Log.MaxBytes != 2<<20 || s.Log.Backups != -1 ||
		s.Notify != notify.ModeAlways || s.NotifyCmd != "notify-me" {
		t.Fatalf("set: %+v, %v", s, err)
	}
	for _, bad := range []string{"BG_KILL_GRACE=abc", "BG_KILL_GRACE=-1", "BG_KILL_GRACE=0", "BG_NOTIFY_TIMEOUT=soon", "BG_LOG_MAX_MB=0",
		"BG_LOG_MAX_MB=lots", "BG_LOG_BACKUPS=-2", "BG_LOG_BACKUPS=1.5", "BG_NOTIFY=sometimes"} {
		name, _, _ := strings.Cut(bad, "=")
		if _, err := ReadSettings(env(bad)); err == nil || !strings.HasPrefix(err.Error(), name+": ") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	// Every bad one is named, not only the first.
	if _, err := ReadSettings(env("BG_KILL_GRACE=x", "BG_LOG_BACKUPS=y")); err == nil || !strings.Contains(err.Error(), "BG_KILL_GRACE") || !strings.Contains(err.Error(), "BG_LOG_BACKUPS") {
		t.Errorf("two bad settings: %v", err)
	}
}

// A bad BG_KILL_GRACE stops bg_run and bg_stop with its name, as a bad
// BG_LOG_MAX_MB does, instead of being ignored.
func TestBadSettingIsAnErrorEverywhere(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"BG_KILL_GRACE=abc", "BG_LOG_MAX_MB=abc"} {
		a := newTestApp(t, bad)
		name, _, _ := strings.Cut(bad, "=")
		if _, err := a.Call(t.Context(), RunTool(), []byte(`{"command":"true"}`)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("bg_run with %s: %v", bad, err)
		}
		if _, _, err := a.Reap(t.Context(), time.Hour, true); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("reap with %s: %v", bad, err)
		}
	}
}

// Every setting is a BG_ variable: the call client answers an idle
// bg-reaper itself only when none is set (cmd/bgtask-call, reap.go), so
// that a bad one is still an error. A setting named otherwise would be
// skipped there.
func TestSettingsAreAllBGVariables(t *testing.T) {
	t.Parallel()
	var read []string
	_, _ = ReadSettings(func(k string) string { read = append(read, k); return "" })
	if len(read) == 0 {
		t.Fatal("ReadSettings read no variable")
	}
	for _, k := range read {
		if !strings.HasPrefix(k, "BG_") || k == "BG_CALL_SERVER" {
			t.Errorf("ReadSettings reads %s: settings are BG_ variables, and BG_CALL_SERVER is the call client's own", k)
		}
	}
}
