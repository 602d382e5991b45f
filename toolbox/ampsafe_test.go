package toolbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
)

// Under Amp, no physical line of an answer reaches 1000 characters, and
// the answer stays JSON with the same member names.
func TestAnswersUnderAmpKeepLinesShort(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, "AGENT_THREAD_ID=T-1", "AMP_CURRENT_THREAD_ID=T-1")
	long := strings.Repeat("é<x>", 700)
	r := startTask(t, a, map[string]any{"command": fmt.Sprintf("printf '%%s\\n' one two '%s'", long), "label": strings.Repeat("l", MaxLabelLen)})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	for i := 0; i < 6; i++ {
		startTask(t, a, map[string]any{"command": "echo 'a >&2 b'", "label": fmt.Sprintf("task number %d with a label", i)})
	}
	for _, tc := range []struct {
		tool  *Tool
		input string
	}{
		{StatusTool(), `{}`},
		{OutputTool(), fmt.Sprintf(`{"task_id":%q,"raw":true,"since":false}`, r.TaskID)},
		{OutputTool(), `{"task_id":"nope"}`},
	} {
		var out bytes.Buffer
		a.Stdout, a.Stdin = &out, strings.NewReader(tc.input)
		a.ServeToolbox(t.Context(), tc.tool, "execute")
		for _, line := range strings.Split(out.String(), "\n") {
			if len(line) >= 1000 {
				t.Fatalf("%s: a line of %d characters", tc.tool.Name, len(line))
			}
		}
		var v map[string]any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", tc.tool.Name, err, out.String())
		}
		if tc.tool.Name == "bg_output" && v["error"] == nil {
			lines, ok := v["stdout"].([]any)
			if !ok || len(lines) < 4 || lines[0] != "one" || !strings.Contains(strings.Join(toStrings(lines), ""), long) {
				t.Fatalf("stdout under Amp: %v", v["stdout"])
			}
		}
	}
}

func toStrings(v []any) []string {
	var out []string
	for _, x := range v {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
