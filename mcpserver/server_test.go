package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/amp-bg-tasks/amp-bg-tasks/agents"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// mcpCommand is `bgtask mcp` as a real process (the test binary, as
// Main), storing tasks in a's state folder so that a's cleanup ends them.
func mcpCommand(t *testing.T, a *toolbox.App) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(os.Args[0], "mcp")
	cmd.Env = append(slices.Clone(a.Environ), toolboxtest.MainAsEnv+"=bgtask", "TASKS_DIR="+a.Store.Dir)
	cmd.Dir = a.Wd
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

// startMCP connects the SDK's client to a `bgtask mcp` subprocess.
func startMCP(t *testing.T, a *toolbox.App) *mcp.ClientSession {
	t.Helper()
	cmd, stderr := mcpCommand(t, a)
	client := mcp.NewClient(&mcp.Implementation{Name: "bgtask-test", Version: "0"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to bgtask mcp: %v", err)
	}
	t.Cleanup(func() {
		if err := cs.Close(); err != nil {
			t.Errorf("close MCP session: %v", err)
		}
		if stderr.Len() > 0 {
			t.Logf("bgtask mcp stderr:\n%s", stderr)
		}
	})
	return cs
}

// callMCP calls a tool and returns its answer: the JSON object of its
// text, which must equal its structuredContent.
func callMCP(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) map[string]any {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	text := resultText(t, res)
	if res.IsError {
		t.Fatalf("%s %v: tool error: %s", tool, args, text)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%s: text is not a JSON object: %v\n%s", tool, err, text)
	}
	if !reflect.DeepEqual(got, res.StructuredContent) {
		t.Errorf("%s: text %v differs from structuredContent %v", tool, got, res.StructuredContent)
	}
	checkOutputSchema(t, cs, tool, got)
	return got
}

// checkOutputSchema validates an answer against the outputSchema the
// server lists for its tool, as strict clients (the TypeScript SDK) do.
func checkOutputSchema(t *testing.T, cs *mcp.ClientSession, tool string, answer map[string]any) {
	t.Helper()
	list, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range list.Tools {
		if mt.Name != tool {
			continue
		}
		var schema jsonschema.Schema
		remarshal(t, mt.OutputSchema, &schema)
		resolved, err := schema.Resolve(nil)
		if err != nil {
			t.Fatalf("%s outputSchema: %v", tool, err)
		}
		if err := resolved.Validate(answer); err != nil {
			t.Errorf("%s answer does not match its outputSchema: %v\n%v", tool, err, answer)
		}
		return
	}
	t.Fatalf("%s not listed", tool)
}

func resultText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("want one content item, got %d", len(res.Content))
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("want text content, got %T", res.Content[0])
	}
	return tc.Text
}

// describe runs a toolbox entry as a real process: TOOLBOX_ACTION=describe.
func describe(t *testing.T, a *toolbox.App, tool *toolbox.Tool) map[string]any {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(slices.Clone(a.Environ), toolboxtest.MainAsEnv+"="+tool.Command(), "TOOLBOX_ACTION=describe", "TASKS_DIR="+a.Store.Dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s describe: %v", tool.Command(), err)
	}
	var d map[string]any
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("%s describe: %v\n%s", tool.Command(), err, out)
	}
	return d
}

// The two protocols serve one definition: names, descriptions and input
// schemas are the same, compared as JSON values.
func TestMCPToolsMatchToolbox(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	cs := startMCP(t, a)
	list, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mt := range list.Tools {
		names = append(names, mt.Name)
	}
	var want []string
	for _, tool := range toolbox.Tools() {
		want = append(want, tool.Name)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("MCP tools %v, toolbox tools %v", names, want)
	}
	for _, mt := range list.Tools {
		d := describe(t, a, toolbox.ToolByCommand(mt.Name))
		// The client decodes the schema into a map; round-trip both
		// through JSON so that numbers compare alike.
		var mcpSchema, boxSchema any
		remarshal(t, mt.InputSchema, &mcpSchema)
		remarshal(t, d["inputSchema"], &boxSchema)
		if !reflect.DeepEqual(mcpSchema, boxSchema) {
			t.Errorf("%s input schema differs:\nMCP     %s\ntoolbox %s", mt.Name, mcpJSON(mcpSchema), mcpJSON(boxSchema))
		}
		if mt.Description != d["description"] {
			t.Errorf("%s description differs:\nMCP     %s\ntoolbox %s", mt.Name, mt.Description, d["description"])
		}
		an := mt.Annotations
		readOnly := mt.Name == "bg_status" || mt.Name == "bg_output"
		if mt.Title == "" || an == nil || an.ReadOnlyHint != readOnly || an.DestructiveHint == nil || *an.DestructiveHint != (mt.Name == "bg_stop") {
			t.Errorf("%s: title %q, annotations %+v", mt.Name, mt.Title, an)
		}
	}
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func mcpJSON(v any) string {
	b, _ := json.Marshal(v) // Only for messages.
	return string(b)
}

// The whole cycle an agent goes through, over a real stdio connection:
// initialize, start a dev server, read its errors, stop it.
func TestMCPRunOutputStop(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	cs := startMCP(t, a)

	init := cs.InitializeResult()
	if init.ServerInfo.Name != "amp-bg-tasks" {
		t.Errorf("server name %q", init.ServerInfo.Name)
	}
	// One version for both: what bgtask --version prints.
	if init.ServerInfo.Version != toolbox.Version() {
		t.Errorf("server version %q, bgtask --version %q", init.ServerInfo.Version, toolbox.Version())
	}
	if init.Instructions != agents.Instructions() {
		t.Errorf("instructions are not agents/instructions.txt:\n%s", init.Instructions)
	}
	if init.Capabilities.Tools == nil {
		t.Errorf("no tools capability: %+v", init.Capabilities)
	}

	run := callMCP(t, cs, "bg_run", map[string]any{"command": tasktest.DevServerCommand, "label": "web", "timeout": 5})
	id, _ := run["task_id"].(string)
	if id == "" || run["status"] != "running" || run["label"] != "web" {
		t.Fatalf("bg_run answer: %v", run)
	}

	// Poll as an agent would, with filter: only the error lines.
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for !slices.ContainsFunc(seen, func(s string) bool { return strings.Contains(s, "Cannot find module") }) {
		if time.Now().After(deadline) {
			t.Fatalf("no error line read; got %q", seen)
		}
		out := callMCP(t, cs, "bg_output", map[string]any{"task_id": id, "filter": "error|fail", "exclude": "GET|HMR"})
		if s, _ := out["stdout"].(string); s != "" {
			seen = append(seen, strings.Split(s, "\n")...)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, line := range seen {
		if !strings.Contains(strings.ToLower(line), "error") && !strings.Contains(strings.ToLower(line), "fail") {
			t.Errorf("filter let through %q", line)
		}
	}

	// Without AMP_THREAD_ID the session's own reader (the client's name
	// and the session's id) keeps its cursors apart from Amp's default
	// ones and from the client's other sessions.
	if m, _ := filepath.Glob(filepath.Join(a.Store.Dir, id, ".cursor_stdout.mcp-bgtask-test-*")); len(m) != 1 {
		t.Errorf("per-session cursors: %q, want one", m)
	}
	if _, err := os.Stat(filepath.Join(a.Store.Dir, id, ".cursor_stdout")); err == nil {
		t.Error("the MCP client moved the default cursor")
	}

	status := callMCP(t, cs, "bg_status", map[string]any{"task_id": id})
	if status["status"] != "running" {
		t.Errorf("bg_status: %v", status)
	}
	stop := callMCP(t, cs, "bg_stop", map[string]any{"task_id": id})
	if stop["status"] != "killed" {
		t.Errorf("bg_stop: %v", stop)
	}
	if left := tasktest.MarkerProcs(t, id); len(left) > 0 {
		t.Errorf("processes left after bg_stop: %v", left)
	}
	// The other shapes of answer, each checked against its outputSchema.
	if list := callMCP(t, cs, "bg_status", map[string]any{}); list["tasks"] == nil {
		t.Errorf("bg_status list: %v", list)
	}
	if digest := callMCP(t, cs, "bg_output", map[string]any{"task_id": id, "view": "digest"}); digest["status"] != "killed" {
		t.Errorf("bg_output digest: %v", digest)
	}
	if clean := callMCP(t, cs, "bg_stop", map[string]any{"task_id": id, "action": "cleanup"}); clean["cleaned"] != 1.0 {
		t.Errorf("bg_stop cleanup: %v", clean)
	}
}

// Every failure is a tool error the model can read and correct, and the
// session goes on.
func TestMCPToolErrors(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	cs := startMCP(t, a)
	tests := []struct {
		tool    string
		args    map[string]any
		wantErr string
	}{
		{"bg_run", map[string]any{}, "command: required"},
		{"bg_run", map[string]any{"command": "  "}, "command: must not be empty"},
		{"bg_run", map[string]any{"command": "true", "cwd": "/does/not/exist"}, "cwd: /does/not/exist does not exist"},
		{"bg_run", map[string]any{"command": "true", "timeout": -1}, "timeout: must be at least 0"},
		{"bg_run", map[string]any{"command": "true", "colour": "red"}, "colour: unknown parameter"},
		{"bg_output", map[string]any{"task_id": "nope"}, "task_id: invalid task_id"},
		{"bg_output", map[string]any{"task_id": "task-1700000000-abcd"}, "task_id:"},
		{"bg_output", map[string]any{"task_id": "task-1700000000-abcd", "stream": "both-ways"}, "stream: must be one of"},
		{"bg_stop", map[string]any{}, "task_id: required to kill"},
		{"bg_status", map[string]any{"task_id": 7}, "task_id: must be a string"},
		{"bg_run", map[string]any{"command": "true", "timeout": 9999999999999}, "timeout: must be at most 43200"},
		{"bg_output", map[string]any{"task_id": "task-1700000000-abcd", "max_lines": 100000}, "max_lines: must be at most 5000"},
		{"bg_output", map[string]any{"task_id": "task-1700000000-abcd", "view": "everything"}, "view: must be one of"},
		{"bg_stop", map[string]any{"task_id": "../x", "action": "kill"}, "task_id: invalid task_id"},
		{"bg_stop", map[string]any{"action": "nuke"}, "action: must be one of"},
	}
	for _, tt := range tests {
		t.Run(tt.tool+" "+mcpJSON(tt.args), func(t *testing.T) {
			before := tasktest.SnapshotDir(t, a.Store.Dir)
			defer func() {
				if after := tasktest.SnapshotDir(t, a.Store.Dir); after != before {
					t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
				}
			}()
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tt.tool, Arguments: tt.args})
			if err != nil {
				t.Fatalf("protocol error, want a tool error: %v", err)
			}
			text := resultText(t, res)
			if !res.IsError || !strings.Contains(text, tt.wantErr) {
				t.Errorf("isError=%v %q, want an error containing %q", res.IsError, text, tt.wantErr)
			}
		})
	}
	// A bad regex is caught after the task is found.
	run := callMCP(t, cs, "bg_run", map[string]any{"command": "exec sleep 600", "label": "sleeper"})
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "bg_output", Arguments: map[string]any{"task_id": run["task_id"], "filter": "(unclosed"}})
	if err != nil || !res.IsError {
		t.Errorf("bad filter: err=%v result=%+v, want a tool error", err, res)
	}
	callMCP(t, cs, "bg_stop", map[string]any{"task_id": run["task_id"]})
	if _, err := cs.ListTools(t.Context(), nil); err != nil {
		t.Errorf("session unusable after tool errors: %v", err)
	}
}

// stdout carries JSON-RPC and nothing else, even when the client sends
// lines that are not messages: those get a JSON-RPC error, not a dead
// server. Logs go to stderr. Closing stdin ends the server cleanly.
func TestMCPStdoutIsProtocolOnly(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	cmd, stderr := mcpCommand(t, a)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`this is not JSON`,
		`{"id":2,"method":"tools/list"}`,
		``,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"bg_output","arguments":{"task_id":"nope"}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"bg_status","arguments":{}}}`,
	}
	go func() {
		for _, l := range lines {
			if _, err := io.WriteString(stdin, l+"\n"); err != nil {
				return
			}
		}
		// stdin stays open until every answer is in: closing it ends
		// the session, and answers still being worked out with it.
	}()
	got := map[string]string{} // id -> "result" or the error message
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for len(got) < 5 && sc.Scan() {
		// JSON-RPC 2.0, checked here rather than by the SDK's decoder,
		// which refuses the "id": null that answers an unparsable line.
		var msg struct {
			Version string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Method  string          `json:"method"`
			Result  json.RawMessage `json:"result"`
			Error   *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil || msg.Version != "2.0" ||
			(msg.Method == "" && len(msg.ID) == 0) || (msg.Method == "" && (msg.Result == nil) == (msg.Error == nil)) {
			t.Fatalf("stdout line is not JSON-RPC 2.0 (%v):\n%s", err, sc.Bytes())
		}
		if msg.Method != "" {
			continue // A request or notification from the server is fine too.
		}
		switch id := string(msg.ID); {
		case msg.Error != nil:
			got[id] = msg.Error.Message
		case bytes.Contains(msg.Result, []byte(`"isError":true`)):
			got[id] = "tool error"
		default:
			got[id] = "result"
		}
	}
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("bgtask mcp after stdin closed: %v\nstderr:\n%s", err, stderr)
	}
	want := map[string]string{"1": "result", "3": "tool error", "4": "result"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("answer to %s: %q, want %q (all: %v)", id, got[id], w, got)
		}
	}
	if !strings.Contains(got["null"], "parse error") || !strings.Contains(got["2"], "invalid request") {
		t.Errorf("bad lines not answered with JSON-RPC errors: %v", got)
	}
	if !strings.Contains(stderr.String(), "rejected a line") {
		t.Errorf("stderr has no log of the rejected lines:\n%s", stderr)
	}
}

// Input and output schemas stay in the subset every client takes (the MCP
// Inspector's "Schema portability" rules): one `type` per schema, never a
// list of them as jsonschema.ForType gives Go's pointers ("null" among
// them), and no schema without any keyword that constrains it.
func TestMCPSchemasPortable(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	cs := startMCP(t, a)
	list, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range list.Tools {
		for kind, schema := range map[string]any{"inputSchema": mt.InputSchema, "outputSchema": mt.OutputSchema} {
			var v any
			remarshal(t, schema, &v)
			if v == nil {
				t.Errorf("%s has no %s", mt.Name, kind)
				continue
			}
			checkPortable(t, mt.Name+" "+kind, v)
		}
	}
}

func checkPortable(t *testing.T, path string, v any) {
	t.Helper()
	s, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: %v is not a schema object", path, v)
		return
	}
	if typ, ok := s["type"]; ok {
		if _, one := typ.(string); !one {
			t.Errorf("%s: type %v is not a single type", path, typ)
		}
	} else if s["anyOf"] == nil && s["enum"] == nil && s["const"] == nil && s["oneOf"] == nil && s["allOf"] == nil && s["not"] == nil {
		t.Errorf("%s: a schema that constrains nothing: %v", path, s)
	}
	for _, key := range []string{"properties", "$defs", "patternProperties"} {
		if m, ok := s[key].(map[string]any); ok {
			for name, sub := range m {
				checkPortable(t, path+"."+key+"."+name, sub)
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties", "not"} {
		if sub, ok := s[key].(map[string]any); ok {
			checkPortable(t, path+"."+key, sub)
		}
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf", "prefixItems"} {
		if l, ok := s[key].([]any); ok {
			for i, sub := range l {
				checkPortable(t, fmt.Sprintf("%s.%s[%d]", path, key, i), sub)
			}
		}
	}
}

// A tools/call that carries a progress token gets notifications/progress
// while it waits (every toolbox.ProgressEvery), then its answer.
func TestMCPProgressWhileWaiting(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	cmd, stderr := mcpCommand(t, a)
	var mu sync.Mutex
	var got []*mcp.ProgressNotificationParams
	client := mcp.NewClient(&mcp.Implementation{Name: "bgtask-progress-test", Version: "0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, req.Params)
		},
	})
	cs, err := client.Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to bgtask mcp: %v", err)
	}
	defer func() {
		if err := cs.Close(); err != nil {
			t.Errorf("close: %v\n%s", err, stderr)
		}
	}()
	run := callMCP(t, cs, "bg_run", map[string]any{"command": "exec sleep 600", "label": "progress"})
	params := &mcp.CallToolParams{Name: "bg_status", Arguments: map[string]any{"task_id": run["task_id"], "wait_seconds": 7}}
	params.SetProgressToken("wait-7")
	res, err := cs.CallTool(t.Context(), params)
	if err != nil || res.IsError {
		t.Fatalf("bg_status with a progress token: %v %+v", err, res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 || got[0].ProgressToken != "wait-7" || got[0].Progress < 5 || got[0].Total != 7 || got[0].Message == "" {
		t.Errorf("progress notifications: %+v, want one after 5 s of 7 with token wait-7", got)
	}
	callMCP(t, cs, "bg_stop", map[string]any{"task_id": run["task_id"]})
}
