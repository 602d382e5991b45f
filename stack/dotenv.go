package stack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// loadDotEnv reads a .env file as foreman and honcho do: KEY=VALUE lines,
// an optional `export ` before the key, # comments, values optionally in
// single quotes (taken as they are) or double quotes (\n, \" and \\
// unescaped). A missing file is no variable.
func loadDotEnv(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read: " + err.Error(), Err: err}
	}
	return parseDotEnv(path, b)
}

func parseDotEnv(path string, b []byte) ([]string, error) {
	var out []string
	for i, line := range bytes.Split(b, []byte("\n")) {
		text := strings.TrimSpace(string(bytes.TrimSuffix(line, []byte("\r"))))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		k, v, ok := strings.Cut(text, "=")
		k = strings.TrimSpace(k)
		if !ok || !EnvKey(k) {
			return nil, &Error{File: path, Line: i + 1, Msg: fmt.Sprintf("want KEY=VALUE, got %q", Clip(text))}
		}
		v = strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			v = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(v[1 : len(v)-1])
		default:
			// An unquoted value ends at a comment, as in a shell.
			if j := strings.Index(v, " #"); j >= 0 {
				v = strings.TrimSpace(v[:j])
			}
		}
		out = append(out, k+"="+v)
	}
	return out, nil
}

// EnvKey: a shell variable name.
func EnvKey(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
