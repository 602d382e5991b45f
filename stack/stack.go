package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names looked for, in order of preference within one folder: a
// process-compose file says more (order, readiness) than a Procfile.
var fileNames = []string{"process-compose.yaml", "process-compose.yml", "Procfile"}

// ErrNoFile reports that no folder from the start up to the root holds a
// stack file.
var ErrNoFile = errors.New("no process-compose.yaml, process-compose.yml or Procfile here or in a parent folder")

// Find returns the stack file of the project dir is in: the first of
// fileNames in dir, else in its nearest parent that has one.
func Find(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find stack file: %w", err)
	}
	from := dir
	for {
		for _, n := range fileNames {
			p := filepath.Join(dir, n)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w (from %s)", ErrNoFile, from)
		}
		dir = parent
	}
}

// Error is a stack file that cannot be used: its path, the line (0 when
// the fault is the whole file's) and what is wrong.
type Error struct {
	File string
	Line int
	Msg  string
	// Err is the underlying read or parse error, if any. It does not
	// cross a process: the hidden __stack command's JSON carries the
	// message (an error interface would encode as {} and not decode).
	Err error `json:"-"`
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Note is a key of the file that is not supported and was ignored.
type Note struct {
	Line int
	Key  string // its path, e.g. processes.api.liveness_probe
	Why  string // "" for "not supported"
}

func (n Note) String() string {
	why := n.Why
	if why == "" {
		why = "not supported"
	}
	return fmt.Sprintf("line %d: %s ignored (%s)", n.Line, n.Key, why)
}

// Stack is what a stack file declares.
type Stack struct {
	// File is the absolute path of the file read.
	File string
	// Services in the file's order.
	Services []*Service
	// Ignored lists the keys that were not used.
	Ignored []Note
}

// Service is one declared process.
type Service struct {
	Name    string
	Command string
	// Dir is where it runs: absolute (working_dir, relative to the file's
	// folder; that folder by default).
	Dir string
	// Env holds KEY=VALUE pairs added to the caller's environment, in
	// order (later ones win).
	Env       []string
	DependsOn []Dependency
	// Probe tells when it is ready; nil: once started.
	Probe    *Probe
	Restart  Restart
	Disabled bool
	// Port is the PORT a Procfile entry gets (0 for process-compose).
	Port int
	// Line is where the service is declared.
	Line int
}

// Condition is what a dependency waits for.
type Condition string

// Conditions of depends_on, as process-compose names them.
const (
	Started               Condition = "process_started"
	Healthy               Condition = "process_healthy"
	CompletedSuccessfully Condition = "process_completed_successfully"
)

// Dependency is one entry of depends_on.
type Dependency struct {
	Name      string
	Condition Condition
	Line      int
}

// Probe is a readiness probe: an HTTP GET or a command, tried every
// Period after InitialDelay, each try bounded by Timeout; the service is
// ready at the first success. FailureThreshold is read but not used by a
// start (see docs/stacks.md).
type Probe struct {
	HTTP             *HTTPGet
	Exec             string
	InitialDelay     time.Duration
	Period           time.Duration
	Timeout          time.Duration
	FailureThreshold int
}

// HTTPGet is an http_get probe: success is a status from 200 to 399.
type HTTPGet struct {
	Scheme, Host, Path string
	Port               int
}

// URL is the address the probe asks.
func (h HTTPGet) URL() string {
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return fmt.Sprintf("%s://%s:%d%s", h.Scheme, h.Host, h.Port, path)
}

// Probe defaults, as process-compose (and Kubernetes) have them.
const (
	DefaultPeriod           = 10 * time.Second
	DefaultTimeout          = time.Second
	DefaultFailureThreshold = 3
)

// Restart policies.
const (
	RestartNo        = "no"
	RestartOnFailure = "on_failure"
	RestartAlways    = "always"
)

// Restart is a service's availability: when its supervisor runs it again.
type Restart struct {
	Policy      string // RestartNo (default), RestartOnFailure or RestartAlways
	MaxRestarts int    // 0: no limit
	Backoff     time.Duration
}

// DefaultBackoff is the pause before a restart when none is given, as in
// process-compose.
const DefaultBackoff = time.Second

// Service returns the service called name, or nil.
func (s *Stack) Service(name string) *Service {
	i := slices.IndexFunc(s.Services, func(v *Service) bool { return v.Name == name })
	if i < 0 {
		return nil
	}
	return s.Services[i]
}

// Names lists the services' names in the file's order.
func (s *Stack) Names() []string {
	out := make([]string, len(s.Services))
	for i, v := range s.Services {
		out[i] = v.Name
	}
	return out
}

// ParseFunc parses a process-compose file's bytes (compose.Parse): it is
// passed in so that this package links no YAML (see package compose).
type ParseFunc func(path string, b []byte) (*Stack, error)

// ErrNoYAML reports a process-compose file given to Load without a
// ParseFunc.
var ErrNoYAML = errors.New("process-compose files need the YAML parser (package compose), which this build leaves out")

// IsProcfile reports whether path names a Procfile (Procfile,
// Procfile.dev, ...) rather than a process-compose file.
func IsProcfile(path string) bool { return strings.HasPrefix(filepath.Base(path), "Procfile") }

// Load reads the stack file at path: a Procfile, with getenv the
// caller's environment (for PORT), or else a process-compose file, with
// parseYAML. Any fault in it is an *Error, and then the Stack is nil.
func Load(path string, getenv func(string) string, parseYAML ParseFunc) (*Stack, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		return nil, &Error{File: abs, Msg: "cannot read: " + errors.Unwrap(err).Error(), Err: err}
	}
	var s *Stack
	switch {
	case IsProcfile(abs):
		env, err := loadDotEnv(filepath.Join(filepath.Dir(abs), ".env"))
		if err != nil {
			return nil, err
		}
		if s, err = parseProcfile(abs, b, env, getenv); err != nil {
			return nil, err
		}
	case parseYAML == nil:
		return nil, &Error{File: abs, Msg: ErrNoYAML.Error(), Err: ErrNoYAML}
	default:
		if s, err = parseYAML(abs, b); err != nil {
			return nil, err
		}
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return s, nil
}
