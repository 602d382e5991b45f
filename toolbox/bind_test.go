package toolbox

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Every tool's typed input struct holds exactly its parameters, and an
// absent parameter's field gets the one default its Param declares.
func TestInputStructsMatchParams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tool     *Tool
		required string // the required parameters, as JSON
		input    any    // a pointer to the tool's input struct
	}{
		{RunTool(), `{}`, &RunInput{}},
		{StatusTool(), `{}`, &StatusInput{}},
		{OutputTool(), `{"task_id":"task-1-x"}`, &OutputInput{}},
		{StopTool(), `{}`, &StopInput{}},
		{SendTool(), `{"task_id":"task-1-x"}`, &SendInput{}},
	} {
		in, err := tc.tool.Decode([]byte(tc.required))
		if err != nil {
			t.Fatalf("%s: %v", tc.tool.Name, err)
		}
		if err := in.Bind(tc.input); err != nil {
			t.Fatalf("%s: %v", tc.tool.Name, err)
		}
		v := reflect.ValueOf(tc.input).Elem()
		for i := range v.NumField() {
			name := v.Type().Field(i).Tag.Get("param")
			p := tc.tool.Params[paramIndex(tc.tool, name)]
			f := v.Field(i)
			switch {
			case p.Default != nil:
				// The default is a valid value of its own parameter...
				raw, _ := json.Marshal(p.Default)
				if _, err := p.Decode(raw); err != nil {
					t.Errorf("%s %s: default %v: %v", tc.tool.Name, name, p.Default, err)
				}
				// ...and the one an absent parameter gets.
				if got := reflect.ValueOf(p.Default).Convert(f.Type()).Interface(); got != f.Interface() {
					t.Errorf("%s %s: absent gives %v, its default is %v", tc.tool.Name, name, f.Interface(), p.Default)
				}
			case f.Kind() == reflect.Pointer:
				if !f.IsNil() {
					t.Errorf("%s %s: absent, yet set", tc.tool.Name, name)
				}
			case !p.Required && !f.IsZero():
				t.Errorf("%s %s: no default, yet absent gives %v", tc.tool.Name, name, f.Interface())
			}
		}
	}
}

func paramIndex(t *Tool, name string) int {
	for i, p := range t.Params {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// A given value wins over the default; a pointer field is set only when
// its parameter is given.
func TestBindGivenValues(t *testing.T) {
	t.Parallel()
	in, err := OutputTool().Decode([]byte(`{"task_id":"task-1-x","since":false,"max_lines":"7","tail":1e12,"view":"digest"}`))
	if err != nil {
		t.Fatal(err)
	}
	var o OutputInput
	if err := in.Bind(&o); err != nil {
		t.Fatal(err)
	}
	if o.Since || o.MaxLines == nil || *o.MaxLines != 7 || o.View != "digest" || o.Stream != "both" || o.Tail != 1<<31-1 {
		t.Fatalf("bound %+v (max_lines %v)", o, o.MaxLines)
	}
}

// A struct that does not fit the parameters is an error when bound, never
// a silently defaulted field: the misspelling of a name included.
func TestBindRejectsMismatchedStructs(t *testing.T) {
	t.Parallel()
	in, err := SendTool().Decode([]byte(`{"task_id":"task-1-x","text":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dst  any
		want string
	}{
		{"misspelt", &struct {
			TaskID string `param:"task_id"`
			Text   string `param:"txet"`
			Enter  bool   `param:"enter"`
			Key    string `param:"key"`
		}{}, `"txet", not one parameter`},
		{"missing", &struct {
			TaskID string `param:"task_id"`
			Text   string `param:"text"`
			Enter  bool   `param:"enter"`
		}{}, "no field for parameter key"},
		{"twice", &struct {
			TaskID string `param:"task_id"`
			Text   string `param:"text"`
			Again  string `param:"text"`
			Enter  bool   `param:"enter"`
			Key    string `param:"key"`
		}{}, `"text", not one parameter`},
		{"untagged", &struct {
			TaskID string `param:"task_id"`
			Text   string
		}{}, "field Text has no param tag"},
		{"wrong type", &struct {
			TaskID string `param:"task_id"`
			Text   string `param:"text"`
			Enter  string `param:"enter"`
			Key    string `param:"key"`
		}{}, "field Enter is string, want bool"},
		{"pointer with default", &struct {
			TaskID string `param:"task_id"`
			Text   string `param:"text"`
			Enter  *bool  `param:"enter"`
			Key    string `param:"key"`
		}{}, "default would never apply"},
		{"not a pointer", SendInput{}, "want a pointer to a struct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := in.Bind(tc.dst); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
