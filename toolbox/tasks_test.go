package toolbox

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// routingFiles are where a call is sent to the place its task runs, and
// the transports: none may name a tool, so that a tool changes in its
// own file only and a new transport is a new Tasks, not a new switch.
var routingFiles = []string{"tasks.go", "tasks_local.go", "tasks_ssh.go", "remote.go", "app.go", "hosts.go"}

// TestRoutingNamesNoTool fails when a routing file spells a tool's name
// (bg_run, bg-run, ...) in a string: routing reads the typed input, and
// a transport takes the tool from its Tool value.
func TestRoutingNamesNoTool(t *testing.T) {
	t.Parallel()
	var names []string
	for _, tool := range Tools() {
		names = append(names, tool.Name, tool.Command())
	}
	fset := token.NewFileSet()
	for _, file := range routingFiles {
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatalf("%s: %v", fset.Position(lit.Pos()), err)
			}
			for _, name := range names {
				if strings.Contains(s, name) {
					t.Errorf("%s: the string %s names the tool %s: route by the typed input, or take the name from the Tool", fset.Position(lit.Pos()), lit.Value, name)
				}
			}
			return true
		})
	}
}

// Both places are Tasks.
var (
	_ Tasks = localTasks{}
	_ Tasks = sshTasks{}
)

// A typed input goes to another host as the parameters it was given:
// host left out (the call is there), absent pointers and empty strings
// left out, every number and flag kept (0 may differ from a default).
func TestParamsOf(t *testing.T) {
	t.Parallel()
	wait := 2.5
	got := paramsOf(RunTool(), RunInput{Command: "make", Host: "devbox", Timeout: 0, Replace: true, WaitSeconds: &wait})
	for k, want := range map[string]any{"command": "make", "timeout": 0.0, "replace": true, "wait_seconds": 2.5, "interactive": false} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s: %v (%T), want %v", k, v, v, want)
		}
	}
	for _, k := range []string{"host", "label", "cwd", "wait_for", "wait_port"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s sent: %v", k, got)
		}
	}
	// What is sent decodes as the same input there, defaults and all.
	in, err := RunTool().Decode([]byte(`{"command":"make","timeout":0,"wait_for":"ready","host":"devbox"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sent RunInput
	if err := in.Bind(&sent); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(paramsOf(RunTool(), sent))
	if err != nil {
		t.Fatal(err)
	}
	there, err := RunTool().Decode(raw)
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	var got2 RunInput
	if err := there.Bind(&got2); err != nil {
		t.Fatal(err)
	}
	sent.Host = ""
	if !reflect.DeepEqual(got2, sent) {
		t.Errorf("sent %+v, decoded there as %+v", sent, got2)
	}
}

// eachHost answers in the hosts' order, each within the one timeout.
func TestEachHost(t *testing.T) {
	t.Parallel()
	hosts := []string{"a", "slow", "c"}
	start := time.Now()
	got := eachHost(context.Background(), hosts, 200*time.Millisecond, func(ctx context.Context, h string) string {
		if h == "slow" {
			<-ctx.Done()
			return h + ":" + ctx.Err().Error()
		}
		return h
	})
	if strings.Join(got, ",") != "a,slow:context deadline exceeded,c" {
		t.Errorf("got %q", got)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("the timeout did not end the slow host")
	}
}

// Every tool's input, defaults and all, goes to another host and
// decodes there as the same input.
func TestParamsOfRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tool *Tool
		raw  string
		typ  any // a pointer to the input type
	}{
		{RunTool(), `{"command":"npm run dev","wait_port":5173,"label":"web","host":"devbox"}`, &RunInput{}},
		{RunTool(), `{"command":"true","timeout":0,"restart":"on_failure","max_restarts":2}`, &RunInput{}},
		{StatusTool(), `{"task_id":"task-1-a","wait_seconds":3}`, &StatusInput{}},
		{StatusTool(), `{"all":true}`, &StatusInput{}},
		{OutputTool(), `{"task_id":"task-1-a","filter":"error","max_lines":40,"since":false}`, &OutputInput{}},
		{OutputTool(), `{"task_id":"task-1-a","view":"digest"}`, &OutputInput{}},
		{StopTool(), `{"task_id":"task-1-a","action":"cleanup"}`, &StopInput{}},
		{SendTool(), `{"task_id":"task-1-a","key":"ctrl-c"}`, &SendInput{}},
		{SendTool(), `{"task_id":"task-1-a","text":"y","enter":false}`, &SendInput{}},
	} {
		bind := func(raw []byte) any {
			t.Helper()
			in, err := tc.tool.Decode(raw)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.tool.Name, raw, err)
			}
			v := reflect.New(reflect.TypeOf(tc.typ).Elem())
			if err := in.Bind(v.Interface()); err != nil {
				t.Fatal(err)
			}
			if f := v.Elem().FieldByName("Host"); f.IsValid() {
				f.SetString("")
			}
			return v.Elem().Interface()
		}
		sent := bind([]byte(tc.raw))
		raw, err := json.Marshal(paramsOf(tc.tool, sent))
		if err != nil {
			t.Fatal(err)
		}
		if there := bind(raw); !reflect.DeepEqual(there, sent) {
			t.Errorf("%s %s: sent %s, decoded there as %+v, want %+v", tc.tool.Name, tc.raw, raw, there, sent)
		}
	}
}
