package mcpserver

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// checkSessionsReport checks sdksessions.mjs's report, run by
// TestTypeScriptSDKClient. Through the stock TypeScript SDK client:
// two sessions of one client each read every line of a task with
// since-reads, and a task outlives a server killed during a wait, its
// end told once to the next session (testdata/sdksessions.mjs).
func checkSessionsReport(t *testing.T, out []byte) {
	var report struct {
		Read    struct{ A, B []string }
		Outlive struct {
			ServerPid                              int
			Cut, ListedStatus, Readable, EndStatus string
			First, Second, Later                   []string
		}
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	var want []string
	for i := 1; i <= 40; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	for name, got := range map[string][]string{"a": report.Read.A, "b": report.Read.B} {
		if !slices.Equal(got, want) {
			t.Errorf("session %s read %d lines, want all 40 once, in order: %q", name, len(got), got)
		}
	}
	o := report.Outlive
	t.Logf("server pid %d killed during a wait: %s", o.ServerPid, o.Cut)
	if o.ListedStatus != "running" || o.Readable != "running" {
		t.Errorf("after the server was killed, a new session lists the task %q and reads it %q; want running", o.ListedStatus, o.Readable)
	}
	if o.EndStatus != "failed" || len(o.First) != 1 || !strings.Contains(o.First[0], "failed (exit 3)") || len(o.Second) != 0 || len(o.Later) != 0 {
		t.Errorf("an end while no session was connected (%s): told %q to the next session, then %q, then %q to the one after; want once", o.EndStatus, o.First, o.Second, o.Later)
	}
}
