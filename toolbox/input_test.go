package toolbox

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
)

// Every bad input is a clear {"error"} naming what is wrong, exit code 1,
// and leaves the state folder as it was.
func TestBadInputIsAClearErrorAndChangesNothing(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	done := startTask(t, a, map[string]any{"command": "true", "label": "existing"})
	tasktest.WaitEnd(t, a.Store, done.TaskID)
	outside := filepath.Join(t.TempDir(), "outside")
	for _, tc := range []struct {
		tool, input string
		want        string // in the error message
	}{
		{"bg_run", `not json`, "invalid JSON"},
		{"bg_run", `{"command":"true"} {"command":"true"}`, "invalid JSON"},
		{"bg_run", `["true"]`, "invalid JSON"},
		{"bg_status", `null}`, "invalid JSON"},
		{"bg_status", `null`, "invalid JSON"},
		{"bg_run", `{}`, "command: required"},
		{"bg_run", `{"command":"   "}`, "command: must not be empty"},
		{"bg_run", `{"command":42}`, "command: must be a string"},
		{"bg_run", `{"command":"true","timeout":"abc"}`, "timeout: must be a number"},
		{"bg_run", `{"command":"true","timeout":-1}`, "timeout: must be at least 0"},
		{"bg_run", `{"command":"true","timeout":true}`, "timeout: must be a number"},
		{"bg_run", `{"command":"true","cwd":"/does/not/exist"}`, "cwd: /does/not/exist does not exist"},
		{"bg_run", `{"command":"true","cwd":"` + os.Args[0] + `"}`, "is not a directory"},
		{"bg_run", `{"command":"true","labl":"x"}`, "labl: unknown parameter"},
		{"bg_status", `{"task_id":"task-1-nosuch"}`, "task_id: no such task"},
		{"bg_status", `{"task_id":"../../etc"}`, "task_id: invalid task_id"},
		{"bg_stop", `{"task_id":"/tmp/x"}`, "task_id: invalid task_id"},
		{"bg_stop", `{"task_id":"task-1-x/../../` + filepath.Base(outside) + `"}`, "task_id: invalid task_id"},
		{"bg_stop", `{}`, "task_id: required"},
		{"bg_stop", `{"task_id":"` + done.TaskID + `","action":"explode"}`, "action: must be one of kill, cleanup"},
		{"bg_stop", `{"task_id":7}`, "task_id: must be a string"},
		{"bg_run", `{"command":"true","timeout":9999999999999}`, "timeout: must be at most 43200"},
		{"bg_run", `{"command":"true","timeout":2e8}`, "timeout: must be at most 43200"},
		{"bg_run", `{"command":"true","timeout":1e400}`, "timeout: must be a number"},
		{"bg_run", `{"command":"true","notify":"sometimes"}`, "notify: must be one of"},
		{"bg_run", `{"command":"true","label":["a"]}`, "label: must be a string"},
		{"bg_run", `{"command":"true","cwd":7}`, "cwd: must be a string"},
		{"bg_run", `{"command":null}`, "command: required"},
		{"bg_run", `{"command":"true","command":"false","timeout":{}}`, "timeout: must be a number"},
		{"bg_run", ``, "command: required"},
		{"bg_run", `{"command":"true","cwd":"` + outside + `/missing"}`, "does not exist"},
		{"bg_output", `{}`, "task_id: required"},
		{"bg_output", `{"task_id":"task-1-nosuch"}`, "task_id: no such task"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","filter":"(unclosed"}`, "filter"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","exclude":"[a-"}`, "exclude"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","max_lines":0}`, "max_lines: must be at least 1"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","max_lines":5001}`, "max_lines: must be at most 5000"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","max_lines":1.5}`, "max_lines: must be a whole number"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","max_line_len":5}`, "max_line_len: must be at least 20"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","tail":-3}`, "tail: must be at least 0"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","context":-1}`, "context: must be at least 0"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","stream":"stdin"}`, "stream: must be one of"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","view":"summary"}`, "view: must be one of tail, digest"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","since":"no"}`, "since: must be true or false"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","raw":1}`, "raw: must be true or false"},
		{"bg_output", `{"task_id":"` + done.TaskID + `","lines":5}`, "lines: unknown parameter"},
		{"bg_output", `{"task_id":"..\/..\/etc"}`, "task_id: invalid task_id"},
		{"bg_status", `{"all":"yes"}`, "all: must be true or false"},
		{"bg_status", `{"task_id":"task-1-x","extra":1}`, "extra: unknown parameter"},
		{"bg_stop", `{"action":"kill"}`, "task_id: required"},
		{"bg_stop", `{"task_id":"task-99999999999-zz","action":"kill"}`, "task_id: no such task"},
		{"bg_stop", `{"action":"cleanup","task_id":"task-1-nosuch"}`, "task_id: no such task"},
		{"bg_stop", `{"action":null}`, "task_id: required to kill"},
	} {
		t.Run(tc.tool+" "+tc.input, func(t *testing.T) {
			before := tasktest.SnapshotDir(t, a.Store.Dir)
			var stdout bytes.Buffer
			a.Stdout, a.Stdin = &stdout, strings.NewReader(tc.input)
			code := a.ServeToolbox(t.Context(), ToolByCommand(tc.tool), "execute")
			var res map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("output %q is not one JSON object: %v", stdout.String(), err)
			}
			msg, _ := res["error"].(string)
			if code != ExitError || len(res) != 1 || !strings.Contains(msg, tc.want) {
				t.Fatalf("exit %d, output %s; want exit 1 and an error containing %q", code, stdout.String(), tc.want)
			}
			if after := tasktest.SnapshotDir(t, a.Store.Dir); after != before {
				t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	if _, err := os.Stat(outside); err == nil {
		t.Fatal("a file outside the state folder was created")
	}
}

func TestDescribeGivesNameDescriptionAndSchema(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, tool := range Tools() {
		var stdout bytes.Buffer
		a.Stdout = &stdout
		if code := a.ServeToolbox(t.Context(), tool, "describe"); code != ExitOK {
			t.Fatalf("%s describe: exit %d", tool.Name, code)
		}
		var d struct {
			Name        string         `json:"name"`
			Description string         `json:"description"`
			InputSchema map[string]any `json:"inputSchema"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		props, _ := d.InputSchema["properties"].(map[string]any)
		if d.Name != tool.Name || d.Description == "" || d.InputSchema["type"] != "object" || len(props) != len(tool.Params) {
			t.Fatalf("%s describe: %s", tool.Name, stdout.String())
		}
	}
	var stdout bytes.Buffer
	a.Stdout = &stdout
	if code := a.ServeToolbox(t.Context(), RunTool(), ""); code != ExitError || !strings.Contains(stdout.String(), "TOOLBOX_ACTION") {
		t.Fatalf("no action: exit %d, %s", code, stdout.String())
	}
}
