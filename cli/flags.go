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
		fs.Var(v, flagName(p.Name), flagUsage(t, p))
	}
	return pf
}

// peopleUsage is a flag's help where the tool parameter's description,
// written for agents, speaks their protocol (bg_send, since=true,
// wait_port, "Over MCP"): the same meaning in the command line's terms.
// Keyed by tool and parameter. TestHelpInPeoplesWords (cmd/bgtask) checks
// every command's --help, so a new parameter whose description names the
// protocol needs its line here.
var peopleUsage = map[string]string{
	"bg_run.interactive":     "Give the command a terminal on stdin, so that you can answer its prompts with bgtask send; otherwise stdin is /dev/null.",
	"bg_run.replace":         "If a task with this label is already running in this folder, stop it and every process it started first. Without it, run refuses to start a second one.",
	"bg_run.restart":         "Run the command again, under the same id and into the same logs, when it exits: on_failure (non-zero exit) or always; no: never. A stop, the timeout or the reaper end it for good.",
	"bg_run.wait_for":        "Wait until a line of output matches this case-insensitive regex, e.g. 'ready|listening|compiled', and print that line.",
	"bg_run.wait_seconds":    "How long to wait, in seconds: 30 by default with --wait-for, --wait-port or --wait-url, at most 600. Alone: wait for the task to end, print how it ended and exit 1 unless it succeeded (a test run).",
	"bg_run.wait_url":        "Wait until this http:// URL answers with a status below 500 (an https:// URL: until its port accepts connections; no TLS is spoken). A process of the task must listen on its port, as for --wait-port.",
	"bg_run.host":            "Run it on another machine: an ssh destination as your ssh knows it (an alias from ~/.ssh/config, host, user@host). Every bgtask command works on the id it prints; --cwd is then a folder there (default: the remote home).",
	"bg_output.max_lines":    "Print at most this many lines, the newest. Default: all of them with a cleaning flag, 80 with --since, 150 with --digest.",
	"bg_output.tail":         "Only the last N lines (with --since: of the new ones).",
	"bg_output.view":         "tail: the newest lines. digest: for a failed run or any log to diagnose, every distinct error, failure, assertion and stack head of the whole log with its context, the summary and exit lines and the last lines, in log order, the rest counted (150 lines unless --max-lines).",
	"bg_output.wait_seconds": "With --since: when nothing new matches yet, wait up to this many seconds for new matching lines (or the task's end), then print the whole burst.",
	"bg_status.wait_seconds": "With a task: wait up to this many seconds for it to end before printing.",
}

// flagUsage is a parameter's description (or its people's version, see
// peopleUsage) with its choices and bounds; the flag package shows the
// default.
func flagUsage(t *toolbox.Tool, p toolbox.Param) string {
	u := p.Description
	if pu, ok := peopleUsage[t.Name+"."+p.Name]; ok {
		u = pu
	}
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
