// Package compose reads the documented subset of a process-compose.yaml
// into a stack.Stack (see docs/stacks.md), with go.yaml.in/yaml/v3 for
// line numbers. It is apart from package stack so that the lean
// bgtask-tool, started on every agent tool call, does not link YAML: its
// package initialisation costs about 0.4 ms a start (GODEBUG=inittrace=1),
// measured in BENCHMARKS.md. It does not check dependencies
// (stack.Stack.Check does) nor interpolate ${VAR}.
package compose

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
	"go.yaml.in/yaml/v3"
)

// Parse reads the supported subset of a process-compose file (see
// docs/stacks.md); other keys become Notes.
func Parse(path string, b []byte) (*stack.Stack, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, yamlError(path, err)
	}
	p := &composeParser{file: path, dir: filepath.Dir(path), s: &stack.Stack{File: path}}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &stack.Error{File: path, Msg: "is empty (want a processes: mapping)"}
	}
	if err := p.root(resolve(doc.Content[0])); err != nil {
		return nil, err
	}
	return p.s, nil
}

// yamlError turns the YAML library's message ("yaml: line 3: ...") into
// an *stack.Error with that line.
func yamlError(path string, err error) *stack.Error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, after, _ := strings.Cut(rest, ":")
		if n, err := strconv.Atoi(num); err == nil {
			line, msg = n, strings.TrimSpace(after)
		}
	}
	return &stack.Error{File: path, Line: line, Msg: "not valid YAML: " + msg, Err: err}
}

type composeParser struct {
	file, dir string
	s         *stack.Stack
}

func (p *composeParser) errf(n *yaml.Node, format string, args ...any) error {
	return &stack.Error{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

func (p *composeParser) ignore(n *yaml.Node, key, why string) {
	p.s.Ignored = append(p.s.Ignored, stack.Note{Line: n.Line, Key: key, Why: why})
}

// resolve follows an alias (*name) to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// each calls f for every key of a mapping node, with the key node and
// the (alias-resolved) value; a node that is no mapping is an error.
func (p *composeParser) each(n *yaml.Node, what string, f func(k, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "%s must be a mapping", what)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if first, dup := seen[k.Value]; dup {
			return p.errf(k, "%s.%s is given twice (first on line %d)", what, k.Value, first)
		}
		seen[k.Value] = k.Line
		if err := f(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *composeParser) root(n *yaml.Node) error {
	var procs *yaml.Node
	var global []string
	err := p.each(n, "the file", func(k, v *yaml.Node) error {
		switch k.Value {
		case "version":
		case "processes":
			procs = v
		case "environment":
			return p.environment(v, "environment", &global)
		default:
			p.ignore(k, k.Value, "")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if procs == nil {
		return p.errf(n, "no processes: mapping")
	}
	if err := p.each(procs, "processes", p.process); err != nil {
		return err
	}
	if len(p.s.Services) == 0 {
		return p.errf(procs, "processes declares no process")
	}
	for _, sv := range p.s.Services {
		// The file's environment first: a process's own wins.
		sv.Env = append(slices.Clone(global), sv.Env...)
	}
	return nil
}

func (p *composeParser) process(k, n *yaml.Node) error {
	name := k.Value
	if !stack.ValidName(name) {
		return p.errf(k, "process name %q: use letters, digits, _, - and . (at most 64)", stack.Clip(name))
	}
	sv := &stack.Service{Name: name, Dir: p.dir, Line: k.Line, Restart: stack.Restart{Policy: stack.RestartNo, Backoff: stack.DefaultBackoff}}
	at := "processes." + name
	err := p.each(n, at, func(k, v *yaml.Node) error {
		key := at + "." + k.Value
		switch k.Value {
		case "command":
			return p.str(v, key, &sv.Command)
		case "working_dir":
			var d string
			if err := p.str(v, key, &d); err != nil {
				return err
			}
			if !filepath.IsAbs(d) {
				d = filepath.Join(p.dir, d)
			}
			sv.Dir = filepath.Clean(d)
		case "environment":
			return p.environment(v, key, &sv.Env)
		case "depends_on":
			return p.each(v, key, func(k, v *yaml.Node) error {
				d := stack.Dependency{Name: k.Value, Condition: stack.Started, Line: k.Line}
				err := p.each(v, key+"."+k.Value, func(ck, cv *yaml.Node) error {
					if ck.Value != "condition" {
						p.ignore(ck, key+"."+k.Value+"."+ck.Value, "")
						return nil
					}
					var c string
					if err := p.str(cv, key+"."+k.Value+".condition", &c); err != nil {
						return err
					}
					switch stack.Condition(c) {
					case stack.Started, stack.Healthy, stack.CompletedSuccessfully:
						d.Condition = stack.Condition(c)
					default:
						return p.errf(cv, "%s.%s.condition: %q is not one of process_started, process_healthy, process_completed_successfully", key, k.Value, c)
					}
					return nil
				})
				sv.DependsOn = append(sv.DependsOn, d)
				return err
			})
		case "readiness_probe":
			pr, err := p.probe(v, key)
			sv.Probe = pr
			return err
		case "availability":
			return p.availability(v, key, &sv.Restart)
		case "disabled":
			return p.bool(v, key, &sv.Disabled)
		default:
			p.ignore(k, key, "")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if strings.TrimSpace(sv.Command) == "" {
		return p.errf(k, "%s has no command", at)
	}
	p.s.Services = append(p.s.Services, sv)
	return nil
}

func (p *composeParser) str(n *yaml.Node, key string, dst *string) error {
	if n.Kind != yaml.ScalarNode {
		return p.errf(n, "%s must be a string", key)
	}
	*dst = n.Value
	return nil
}

func (p *composeParser) bool(n *yaml.Node, key string, dst *bool) error {
	if n.Kind != yaml.ScalarNode || n.Decode(dst) != nil {
		return p.errf(n, "%s must be true or false, got %q", key, n.Value)
	}
	return nil
}

// count reads a whole number from lo up.
func (p *composeParser) count(n *yaml.Node, key string, lo int, dst *int) error {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < lo {
		return p.errf(n, "%s must be a whole number of at least %d, got %q", key, lo, n.Value)
	}
	*dst = v
	return nil
}

// seconds reads a non-negative number of seconds, fractions allowed.
func (p *composeParser) seconds(n *yaml.Node, key string, dst *time.Duration) error {
	v, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 || v > 86400 {
		return p.errf(n, "%s must be a number of seconds from 0 to 86400, got %q", key, n.Value)
	}
	*dst = time.Duration(v * float64(time.Second))
	return nil
}

// environment reads a list of KEY=VALUE (process-compose's form) or a
// mapping of KEY: VALUE.
func (p *composeParser) environment(n *yaml.Node, key string, dst *[]string) error {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, e := range n.Content {
			e = resolve(e)
			k, _, ok := strings.Cut(e.Value, "=")
			if e.Kind != yaml.ScalarNode || !ok || !stack.EnvKey(k) {
				return p.errf(e, "%s: want KEY=VALUE, got %q", key, stack.Clip(e.Value))
			}
			*dst = append(*dst, e.Value)
		}
		return nil
	case yaml.MappingNode:
		return p.each(n, key, func(k, v *yaml.Node) error {
			if !stack.EnvKey(k.Value) || v.Kind != yaml.ScalarNode {
				return p.errf(k, "%s: want KEY: VALUE, got %q", key, stack.Clip(k.Value))
			}
			*dst = append(*dst, k.Value+"="+v.Value)
			return nil
		})
	}
	return p.errf(n, "%s must be a list of KEY=VALUE", key)
}

func (p *composeParser) probe(n *yaml.Node, key string) (*stack.Probe, error) {
	pr := &stack.Probe{Period: stack.DefaultPeriod, Timeout: stack.DefaultTimeout, FailureThreshold: stack.DefaultFailureThreshold}
	err := p.each(n, key, func(k, v *yaml.Node) error {
		sub := key + "." + k.Value
		switch k.Value {
		case "http_get":
			h := &stack.HTTPGet{Scheme: "http", Host: "127.0.0.1", Path: "/"}
			pr.HTTP = h
			return p.each(v, sub, func(k, v *yaml.Node) error {
				switch k.Value {
				case "host":
					return p.str(v, sub+".host", &h.Host)
				case "scheme":
					if err := p.str(v, sub+".scheme", &h.Scheme); err != nil {
						return err
					}
					if h.Scheme != "http" && h.Scheme != "https" {
						return p.errf(v, "%s.scheme must be http or https, got %q", sub, h.Scheme)
					}
				case "path":
					return p.str(v, sub+".path", &h.Path)
				case "port":
					if err := p.count(v, sub+".port", 1, &h.Port); err != nil || h.Port > 65535 {
						return p.errf(v, "%s.port must be a port number, got %q", sub, v.Value)
					}
				default:
					p.ignore(k, sub+"."+k.Value, "")
				}
				return nil
			})
		case "exec":
			return p.each(v, sub, func(k, v *yaml.Node) error {
				if k.Value != "command" {
					p.ignore(k, sub+"."+k.Value, "")
					return nil
				}
				return p.str(v, sub+".command", &pr.Exec)
			})
		case "initial_delay_seconds":
			return p.seconds(v, sub, &pr.InitialDelay)
		case "period_seconds":
			return p.seconds(v, sub, &pr.Period)
		case "timeout_seconds":
			return p.seconds(v, sub, &pr.Timeout)
		case "failure_threshold":
			if err := p.count(v, sub, 1, &pr.FailureThreshold); err != nil {
				return err
			}
			p.ignore(k, sub, "a start waits for the first success, until the task ends or the wait runs out")
		case "success_threshold":
			p.ignore(k, sub, "the first success makes the service ready")
		default:
			p.ignore(k, sub, "")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case pr.HTTP != nil && pr.Exec != "":
		return nil, p.errf(n, "%s: give http_get or exec, not both", key)
	case pr.HTTP == nil && strings.TrimSpace(pr.Exec) == "":
		return nil, p.errf(n, "%s needs http_get (with a port) or exec (with a command)", key)
	case pr.HTTP != nil && pr.HTTP.Port == 0:
		return nil, p.errf(n, "%s.http_get needs a port", key)
	case pr.Period == 0:
		return nil, p.errf(n, "%s.period_seconds must be more than 0", key)
	case pr.Timeout == 0:
		return nil, p.errf(n, "%s.timeout_seconds must be more than 0", key)
	}
	return pr, nil
}

func (p *composeParser) availability(n *yaml.Node, key string, r *stack.Restart) error {
	return p.each(n, key, func(k, v *yaml.Node) error {
		sub := key + "." + k.Value
		switch k.Value {
		case "restart":
			var s string
			if err := p.str(v, sub, &s); err != nil {
				return err
			}
			switch s {
			case stack.RestartNo, stack.RestartOnFailure, stack.RestartAlways:
				r.Policy = s
			case "exit_on_failure":
				r.Policy = stack.RestartNo
				p.ignore(v, sub+": exit_on_failure", "other services are not stopped when it fails; taken as no")
			default:
				return p.errf(v, "%s must be no, on_failure or always, got %q", sub, s)
			}
		case "max_restarts":
			return p.count(v, sub, 0, &r.MaxRestarts)
		case "backoff_seconds":
			return p.seconds(v, sub, &r.Backoff)
		default:
			p.ignore(k, sub, "")
		}
		return nil
	})
}
