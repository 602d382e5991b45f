package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The CLI's flags come from the tools' parameters: each parameter of a
// tool is a flag of the command that calls it (wait_for is --wait-for),
// with the parameter's description, default and checks. A parameter
// added to a tool is a flag at once.

// flagName is the flag for parameter name: wait_for is wait-for.
func flagName(param string) string { return strings.ReplaceAll(param, "_", "-") }

// paramFlags holds the values of the flags declared for a tool's
// parameters.
type paramFlags struct {
	tool *toolbox.Tool
	vals map[string]*paramValue // by parameter name
}

// declareParams declares a flag on fs for each parameter of t except
// those in skip (given as arguments instead).
func declareParams(fs *flag.FlagSet, t *toolbox.Tool, skip ...string) *paramFlags {
	pf := &paramFlags{tool: t, vals: map[string]*paramValue{}}
	for _, p := range t.Params {
		if slices.Contains(skip, p.Name) {
			continue
		}
		v := &paramValue{p: p}
		pf.vals[p.Name] = v
		fs.Var(v, flagName(p.Name), flagUsage(p))
	}
	return pf
}

// flagUsage is a parameter's description with its choices and bounds;
// the flag package shows the default.
func flagUsage(p toolbox.Param) string {
	u := p.Description
	if len(p.Enum) > 0 {
		u += " One of: " + strings.Join(p.Enum, ", ") + "."
	}
	switch {
	case p.Min != nil && p.Max != nil:
		u += fmt.Sprintf(" From %g to %g.", *p.Min, *p.Max)
	case p.Min != nil:
		u += fmt.Sprintf(" At least %g.", *p.Min)
	}
	return u
}

// given reports whether the flag of parameter name was given.
func (pf *paramFlags) given(name string) bool {
	v, ok := pf.vals[name]
	return ok && v.set
}

// cleaning reports whether `bgtask logs` reads cleaned lines, as
// bg_output does: asked with clean (--clean), or with any of bg_output's
// cleaning flags.
func (pf *paramFlags) cleaning(clean bool) bool {
	return clean || pf.given("filter") || pf.given("exclude") || pf.given("context") || pf.given("max_lines") || pf.given("max_line_len")
}

// set gives parameter name a value as if its flag had been given.
func (pf *paramFlags) set(name string, val any) {
	v, ok := pf.vals[name]
	if !ok {
		v = &paramValue{}
		pf.vals[name] = v
	}
	v.val, v.set = val, true
}

// params returns the parameters given as flags (or set), by name, for
// toolbox.Tool.Decode: absent ones get their defaults there.
func (pf *paramFlags) params() map[string]any {
	m := map[string]any{}
	for name, v := range pf.vals {
		if v.set {
			m[name] = v.val
		}
	}
	return m
}

// paramValue is one parameter's flag.Value: checked as the tool checks
// the parameter, when it is parsed.
type paramValue struct {
	p   toolbox.Param
	val any // as decoded: string, float64 or bool
	set bool
}

func (v *paramValue) String() string {
	if v == nil || v.p.Default == nil {
		return "" // The flag package's zero value, and no default shown.
	}
	return fmt.Sprint(v.p.Default)
}

func (v *paramValue) Set(s string) error {
	raw, _ := json.Marshal(s) // A string always marshals.
	val, err := v.p.Decode(raw)
	if err != nil {
		return err
	}
	v.val, v.set = val, true
	return nil
}

// IsBoolFlag lets a boolean parameter's flag stand alone: --replace.
func (v *paramValue) IsBoolFlag() bool { return v.p.Type == "boolean" }

// parseMixed parses args with flags and positional arguments in any
// order (`logs --stream stdout web -n 1`); everything after "--" is
// positional. It returns the positional arguments.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// cliName is how a person types parameter name on the command line.
func cliName(param string) string { return "--" + flagName(param) }
