package stack

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/envlist"
)

// Procfile ports, as foreman, honcho and node-foreman give them: the
// first entry gets the base port, each next one 100 more.
const (
	DefaultBasePort = 5000
	PortStep        = 100
)

// parseProcfile reads `name: command` lines; blank lines and lines
// starting with # are skipped. env holds the .env beside it (already
// parsed); the base port is PORT from .env, else from getenv, else
// DefaultBasePort.
func parseProcfile(path string, b []byte, env []string, getenv func(string) string) (*Stack, error) {
	base := DefaultBasePort
	port, where := envlist.Get(env, "PORT"), ".env"
	if port == "" && getenv != nil {
		port, where = getenv("PORT"), "the environment"
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, &Error{File: path, Msg: fmt.Sprintf("PORT=%q from %s is not a port number", port, where)}
		}
		base = n
	}
	s := &Stack{File: path}
	dir := filepath.Dir(path)
	for i, line := range bytes.Split(b, []byte("\n")) {
		n := i + 1
		text := strings.TrimSpace(string(bytes.TrimSuffix(line, []byte("\r"))))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, cmd, ok := strings.Cut(text, ":")
		name, cmd = strings.TrimSpace(name), strings.TrimSpace(cmd)
		if !ok || !ValidName(name) {
			return nil, &Error{File: path, Line: n, Msg: fmt.Sprintf("want `name: command` (name of letters, digits, _ and -), got %q", Clip(text))}
		}
		if cmd == "" {
			return nil, &Error{File: path, Line: n, Msg: fmt.Sprintf("%s has no command", name)}
		}
		if prev := s.Service(name); prev != nil {
			return nil, &Error{File: path, Line: n, Msg: fmt.Sprintf("%s is declared twice (first on line %d)", name, prev.Line)}
		}
		p := base + PortStep*len(s.Services)
		if p > 65535 {
			return nil, &Error{File: path, Line: n, Msg: fmt.Sprintf("%s would get PORT %d, beyond 65535 (base %d)", name, p, base)}
		}
		s.Services = append(s.Services, &Service{
			Name: name, Command: cmd, Dir: dir, Line: n, Port: p,
			Env:     append(slices.Clone(env), "PORT="+strconv.Itoa(p)),
			Restart: Restart{Policy: RestartNo},
		})
	}
	if len(s.Services) == 0 {
		return nil, &Error{File: path, Msg: "declares no process (want `name: command` lines)"}
	}
	return s, nil
}

// ValidName: letters, digits, _ and -, as foreman's Procfile pattern, and
// at most 64 bytes (it becomes a task label).
func ValidName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Clip shortens a quoted line in an error.
func Clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
