package toolbox

import (
	"encoding/json"
	"strings"
	"testing"
)

// Tool input is whatever an agent sends: decoding never panics, and
// either fails with an InputError or yields only declared parameters.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"command":"npm test","timeout":"30","label":null}`, `{"timeout":-1}`, `{"tail":1e309}`,
		`{"since":"TRUE","max_lines":"80"}`, `[1]`, `{"a":1}{"b":2}`, `{"task_id":"../../etc"}`, ``, `{"context":2.5}`,
	} {
		f.Add(s)
	}
	tools := Tools()
	f.Fuzz(func(t *testing.T, raw string) {
		for _, tool := range tools {
			in, err := tool.Decode([]byte(raw))
			if err != nil {
				if _, ok := err.(*InputError); !ok {
					t.Fatalf("%s: error of type %T: %v", tool.Name, err, err)
				}
				continue
			}
			for name := range in.vals {
				found := false
				for _, p := range tool.Params {
					found = found || p.Name == name
				}
				if !found {
					t.Fatalf("%s accepted undeclared %q", tool.Name, name)
				}
			}
			// Empty input (stdin with nothing on it) means no parameters.
			if !json.Valid([]byte(raw)) && strings.TrimSpace(raw) != "" {
				t.Fatalf("%s accepted invalid JSON %q", tool.Name, raw)
			}
		}
	})
}
