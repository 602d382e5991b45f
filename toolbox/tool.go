package toolbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Tool is one agent tool, defined once and served through every protocol
// (the Amp toolbox here, MCP too): its parameters give both the JSON Schema
// an agent sees and the validation its input gets.
type Tool struct {
	Name        string
	Title       string // for people, in clients that show one (MCP)
	Description string
	Params      []Param
	// Run runs the tool on decoded input. Tools set it with handle, from
	// a handler that takes a typed input struct (RunInput...).
	Run func(ctx context.Context, a *App, in Input) (any, error)
	// Results are zero values of the types Run returns (bg_status returns
	// a list or one task's detail), for protocols that describe a tool's
	// answer (MCP's outputSchema). Execute adds Notices to each.
	Results []any
	// Hints for clients that ask before running a tool (MCP annotations).
	ReadOnly    bool // changes nothing (bg_status, bg_output: cursors aside)
	Destructive bool // may end processes or delete logs (bg_stop)
}

// Param describes one parameter.
type Param struct {
	Name        string
	Type        string // "string", "number", "integer" or "boolean"
	Description string
	Required    bool
	Enum        []string // allowed strings
	Default     any      // in the schema, and what an absent parameter's field gets (see Bind)
	Min         *float64 // inclusive lower bound for numbers
	Max         *float64 // inclusive upper bound for numbers
}

func minimum(v float64) *float64 { return &v }

// fullDescription is the description with what the schema says in words:
// some clients (Amp) show the description but not the schema's required
// list, enum, default or bounds.
func (p Param) fullDescription() string {
	var extra []string
	if p.Required {
		extra = append(extra, "Required.")
	}
	if len(p.Enum) > 0 {
		extra = append(extra, "One of: "+strings.Join(p.Enum, ", ")+".")
	}
	if p.Default != nil {
		extra = append(extra, fmt.Sprintf("Default: %v.", p.Default))
	}
	switch {
	case p.Min != nil && p.Max != nil:
		extra = append(extra, fmt.Sprintf("From %g to %g.", *p.Min, *p.Max))
	case p.Min != nil:
		extra = append(extra, fmt.Sprintf("At least %g.", *p.Min))
	}
	if len(extra) == 0 {
		return p.Description
	}
	return p.Description + " (" + strings.Join(extra, " ") + ")"
}

func maximum(v float64) *float64 { return &v }

// Schema returns the tool's input JSON Schema.
func (t *Tool) Schema() map[string]any {
	props := map[string]any{}
	var required []string
	for _, p := range t.Params {
		s := map[string]any{"type": p.Type, "description": p.fullDescription()}
		if len(p.Enum) > 0 {
			s["enum"] = p.Enum
		}
		if p.Default != nil {
			s["default"] = p.Default
		}
		if p.Min != nil {
			s["minimum"] = *p.Min
		}
		if p.Max != nil {
			s["maximum"] = *p.Max
		}
		props[p.Name] = s
		if p.Required {
			required = append(required, p.Name)
		}
	}
	schema := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		schema["required"] = required
	}
	return schema
}

// InputError reports input an agent must correct; its message names the
// parameter.
type InputError struct {
	Param string
	Msg   string
}

func (e *InputError) Error() string {
	if e.Param == "" {
		return e.Msg
	}
	return e.Param + ": " + e.Msg
}

// Input is a tool call's validated parameters, as given: Bind turns it
// into a handler's typed input struct, with defaults applied.
type Input struct {
	tool *Tool
	vals map[string]any // string, float64 or bool, by Param.Type
}

// Decode validates raw JSON input against the tool's parameters. Agents
// are lenient writers, so numbers and booleans given as strings ("30",
// "true") are accepted; anything else of the wrong type is an error.
func (t *Tool) Decode(raw []byte) (Input, error) {
	in := Input{tool: t, vals: map[string]any{}}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	err := dec.Decode(&m)
	if ute := (*json.UnmarshalTypeError)(nil); errors.As(err, &ute) {
		err = fmt.Errorf("got a JSON %s", ute.Value)
	}
	if err == nil && m == nil {
		err = errors.New("null") // Decodes into a nil map without complaint.
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the object")
		}
	}
	if err != nil {
		return in, &InputError{Msg: fmt.Sprintf("invalid JSON input: want one object of parameters, such as {\"task_id\": \"...\"}: %v", err)}
	}
	var unknown []string
	for k := range m {
		if !slices.ContainsFunc(t.Params, func(p Param) bool { return p.Name == k }) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return in, &InputError{Param: unknown[0], Msg: fmt.Sprintf("unknown parameter for %s (known: %s)", t.Name, t.paramNames())}
	}
	for _, p := range t.Params {
		v, ok := m[p.Name]
		if !ok || string(v) == "null" {
			if p.Required {
				return in, &InputError{Param: p.Name, Msg: "required"}
			}
			continue
		}
		val, err := p.Decode(v)
		if err != nil {
			return in, &InputError{Param: p.Name, Msg: err.Error()}
		}
		in.vals[p.Name] = val
	}
	return in, nil
}

func (t *Tool) paramNames() string {
	var names []string
	for _, p := range t.Params {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

func (p Param) Decode(v json.RawMessage) (any, error) {
	var s string
	isString := json.Unmarshal(v, &s) == nil
	switch p.Type {
	case "string":
		if !isString {
			return nil, fmt.Errorf("must be a string, got %s", v)
		}
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, s) {
			return nil, fmt.Errorf("must be one of %s, got %q", strings.Join(p.Enum, ", "), s)
		}
		return s, nil
	case "boolean":
		var b bool
		if err := json.Unmarshal(v, &b); err == nil {
			return b, nil
		}
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); isString && err == nil {
			return b, nil
		}
		return nil, fmt.Errorf("must be true or false, got %s", v)
	case "number", "integer":
		var f float64
		err := json.Unmarshal(v, &f)
		if err != nil && isString {
			f, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
		}
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("must be a number, got %s", v)
		}
		if p.Type == "integer" && f != math.Trunc(f) {
			return nil, fmt.Errorf("must be a whole number, got %s", v)
		}
		if p.Min != nil && f < *p.Min {
			return nil, fmt.Errorf("must be at least %g, got %g", *p.Min, f)
		}
		if p.Max != nil && f > *p.Max {
			return nil, fmt.Errorf("must be at most %g, got %g", *p.Max, f)
		}
		if f == 0 {
			f = 0 // -0 is 0: never echoed back as "-0".
		}
		return f, nil
	}
	return nil, fmt.Errorf("parameter type %q not supported", p.Type)
}

// Bind stores the input in the struct dst points to. Each field is
// tagged with the parameter it holds (`param:"max_lines"`) and gets its
// value, or when absent its Param.Default (the zero value without one).
// A pointer field instead stays nil when the parameter is absent, for a
// handler whose default depends on other parameters; its Param has no
// Default. Fields and parameters must match one to one with fitting
// types: a misspelt tag is an error, never a silent default.
func (in Input) Bind(dst any) error {
	t := in.tool
	if t == nil {
		return errors.New("input not decoded by a tool")
	}
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%s input: want a pointer to a struct, got %T", t.Name, dst)
	}
	v = v.Elem()
	bound := map[string]bool{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, ok := f.Tag.Lookup("param")
		if !ok {
			return fmt.Errorf("%s input: field %s has no param tag", t.Name, f.Name)
		}
		j := slices.IndexFunc(t.Params, func(p Param) bool { return p.Name == name })
		if j < 0 || bound[name] {
			return fmt.Errorf("%s input: field %s is for %q, not one parameter of %s (known: %s)", t.Name, f.Name, name, t.Name, t.paramNames())
		}
		p := t.Params[j]
		bound[name] = true
		typ, ptr := f.Type, f.Type.Kind() == reflect.Pointer
		if ptr {
			typ = typ.Elem()
			if p.Default != nil {
				return fmt.Errorf("%s input: field %s is a pointer, so %s's default would never apply", t.Name, f.Name, name)
			}
		}
		if fieldKind(p.Type) != typ.Kind() {
			return fmt.Errorf("%s input: field %s is %s, want %s for a %s parameter", t.Name, f.Name, typ, fieldKind(p.Type), p.Type)
		}
		val, given := in.vals[name]
		if !given {
			val = p.Default
		}
		if val == nil {
			continue // The zero value, or nil for a pointer.
		}
		rv := reflect.ValueOf(val)
		if !rv.CanConvert(typ) || (rv.Kind() == reflect.String) != (typ.Kind() == reflect.String) {
			return fmt.Errorf("%s input: %s's value %v (%T) is not a %s", t.Name, name, val, val, p.Type)
		}
		field := v.Field(i)
		if ptr {
			field.Set(reflect.New(typ))
			field = field.Elem()
		}
		if typ.Kind() == reflect.Int {
			// Integers arrive as float64 (JSON); an unbounded one is
			// capped rather than wrapped.
			field.SetInt(int64(min(rv.Convert(reflect.TypeFor[float64]()).Float(), math.MaxInt32)))
			continue
		}
		field.Set(rv.Convert(typ))
	}
	for _, p := range t.Params {
		if !bound[p.Name] {
			return fmt.Errorf("%s input: %T has no field for parameter %s", t.Name, dst, p.Name)
		}
	}
	return nil
}

// fieldKind is the Go kind of an input struct field for a Param.Type.
func fieldKind(typ string) reflect.Kind {
	switch typ {
	case "string":
		return reflect.String
	case "boolean":
		return reflect.Bool
	case "integer":
		return reflect.Int
	case "number":
		return reflect.Float64
	}
	return reflect.Invalid
}

// handle makes a Tool.Run from a handler that takes the tool's typed
// input struct.
func handle[In, Out any](f func(context.Context, *App, In) (Out, error)) func(context.Context, *App, Input) (any, error) {
	return func(ctx context.Context, a *App, in Input) (any, error) {
		var v In
		if err := in.Bind(&v); err != nil {
			return nil, err
		}
		return f(ctx, a, v)
	}
}

// toolMaker is an agent tool's name and the function that builds it.
type toolMaker struct {
	name  string
	build func() *Tool
}

// toolMakers lists every agent tool, in the order agents should learn them.
// A toolbox call builds only the tool it serves: building the others (their
// descriptions, their formatting code touched for the first time) was a
// tenth of what a bg_output read cost above the program's start.
func toolMakers() []toolMaker {
	return []toolMaker{{"bg_run", RunTool}, {"bg_status", StatusTool}, {"bg_output", OutputTool}, {"bg_stop", StopTool}, {"bg_send", SendTool}}
}

// Tools returns every agent tool, in the order agents should learn them.
func Tools() []*Tool {
	var out []*Tool
	for _, m := range toolMakers() {
		out = append(out, m.build())
	}
	return out
}

// ToolByCommand maps an executable name (bg-run, or bg_run) to its tool.
func ToolByCommand(name string) *Tool {
	name = strings.ReplaceAll(name, "-", "_")
	for _, m := range toolMakers() {
		if m.name == name {
			return m.build()
		}
	}
	return nil
}

// Command is t's toolbox entry name: bg_run is bg-run.
func (t *Tool) Command() string { return ToolCommand(t.Name) }

// ToolCommand is the toolbox entry name of the tool named name: bg_run
// is bg-run. The one rule, here and on other hosts.
func ToolCommand(name string) string { return strings.ReplaceAll(name, "_", "-") }
