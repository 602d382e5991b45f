package toolbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/pathlook"
	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
)

// Stack files: finding and reading the stack file of a project, in this
// process or, for a process-compose file in the lean build, by the full
// bgtask (which links the YAML parser).

// StackCommandName is the hidden command of the full bgtask that prints
// a stack file as JSON (a StackAnswer): the lean build, which links no
// YAML, asks it (package cli defines it).
const StackCommandName = "__stack"

// StackFileAnswer is the hidden __stack command's answer: the stack a file
// declares, or why it could not be read.
func StackFileAnswer(file string, getenv func(string) string, parse stack.ParseFunc) StackAnswer {
	s, err := stack.Load(file, getenv, parse)
	out := StackAnswer{Stack: s}
	if se := (*stack.Error)(nil); errors.As(err, &se) {
		out.Error = se
	} else if err != nil {
		out.Error = &stack.Error{File: file, Msg: err.Error()}
	}
	return out
}

// StackAnswer is what the hidden __stack command prints.
type StackAnswer struct {
	Stack *stack.Stack `json:"stack,omitempty"`
	Error *stack.Error `json:"error,omitempty"`
}

// loadStack finds and reads the stack file of the project dir is in.
// A process-compose file is parsed in this process when the build has
// the parser (the full bgtask), else by the full bgtask beside this one.
func (a *App) loadStack(ctx context.Context, dir string) (*stack.Stack, error) {
	file, err := stack.Find(dir)
	if err != nil {
		return nil, err
	}
	if stack.IsProcfile(file) {
		return stack.Load(file, a.Getenv, nil)
	}
	if a.ParseStack != nil {
		return stack.Load(file, a.Getenv, a.ParseStack)
	}
	full, err := a.fullBuild()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	cmd := exec.CommandContext(ctx, full, StackCommandName, file)
	cmd.Env = a.Environ
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	var out StackAnswer
	if err != nil || json.Unmarshal(b, &out) != nil || out.Stack == nil && out.Error == nil {
		return nil, fmt.Errorf("read %s with %s: %v %s", file, full, err, strings.TrimSpace(stderr.String()))
	}
	if out.Error != nil {
		return nil, out.Error
	}
	return out.Stack, nil
}

// fullBuild finds the full bgtask: beside this program, else on the
// caller's PATH.
func (a *App) fullBuild() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "bgtask")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 && p != self {
			return p, nil
		}
	}
	p := pathlook.Find("bgtask", a.Getenv("PATH"))
	if p == "" {
		return "", errors.New("process-compose files are read by the full bgtask, which is neither beside this program nor on PATH")
	}
	return p, nil
}

// LoadStack finds and reads the stack file of the project dir is in.
func (a *App) LoadStack(ctx context.Context, dir string) (*stack.Stack, error) {
	return a.loadStack(ctx, dir)
}
