package stack

import (
	"fmt"
	"slices"
	"strings"
)

// Check finds what makes the stack unusable as a whole: a dependency on
// an unknown service, on itself or in a cycle, and process_healthy on a
// service with no readiness probe.
func (s *Stack) Check() error {
	for _, v := range s.Services {
		for _, d := range v.DependsOn {
			dep := s.Service(d.Name)
			switch {
			case dep == nil:
				return &Error{File: s.File, Line: d.Line, Msg: fmt.Sprintf("%s depends on %s, which is not declared (declared: %s)", v.Name, d.Name, strings.Join(s.Names(), ", "))}
			case dep == v:
				return &Error{File: s.File, Line: d.Line, Msg: fmt.Sprintf("%s depends on itself", v.Name)}
			case d.Condition == Healthy && dep.Probe == nil:
				return &Error{File: s.File, Line: d.Line, Msg: fmt.Sprintf("%s waits for %s to be healthy, but %s has no readiness_probe", v.Name, d.Name, d.Name)}
			}
		}
	}
	// Depth-first search from each service in file order; a service met
	// again while on the path closes a cycle.
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []Dependency
	var visit func(v *Service) error
	visit = func(v *Service) error {
		state[v.Name] = onPath
		for _, d := range v.DependsOn {
			path = append(path, d)
			switch state[d.Name] {
			case onPath:
				start := slices.IndexFunc(path, func(p Dependency) bool { return s.dependent(p) == d.Name })
				names := []string{}
				for _, p := range path[start:] {
					names = append(names, s.dependent(p))
				}
				names = append(names, d.Name)
				return &Error{File: s.File, Line: d.Line, Msg: "dependency cycle: " + strings.Join(names, " -> ")}
			case unseen:
				if err := visit(s.Service(d.Name)); err != nil {
					return err
				}
			}
			path = path[:len(path)-1]
		}
		state[v.Name] = done
		return nil
	}
	for _, v := range s.Services {
		if state[v.Name] == unseen {
			if err := visit(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// dependent is the service whose depends_on holds d (matched by line, as
// the Dependency values are copies).
func (s *Stack) dependent(d Dependency) string {
	for _, v := range s.Services {
		for _, e := range v.DependsOn {
			if e == d {
				return v.Name
			}
		}
	}
	return ""
}

// UnknownError reports a service name the stack does not declare.
type UnknownError struct {
	File, Name string
	Known      []string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("%s declares no service %q (declared: %s)", e.File, e.Name, strings.Join(e.Known, ", "))
}

// Plan returns the services to start for names, each after the services
// it depends on (and those before the ones depending on them), in the
// file's order where the dependencies leave a choice. No names means every
// service not disabled; a disabled service named, or needed by one named,
// is started.
func (s *Stack) Plan(names ...string) ([]*Service, error) {
	want := names
	if len(want) == 0 {
		for _, v := range s.Services {
			if !v.Disabled {
				want = append(want, v.Name)
			}
		}
	}
	var out []*Service
	added := map[string]bool{}
	var add func(v *Service)
	add = func(v *Service) {
		if added[v.Name] {
			return
		}
		added[v.Name] = true // check ruled out cycles.
		for _, d := range v.DependsOn {
			add(s.Service(d.Name))
		}
		out = append(out, v)
	}
	for _, n := range want {
		v := s.Service(n)
		if v == nil {
			return nil, &UnknownError{File: s.File, Name: n, Known: s.Names()}
		}
		add(v)
	}
	return out, nil
}
