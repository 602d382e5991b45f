// Package envlist reads environments given as KEY=VALUE lists (exec.Cmd's
// Env, a caller's environment passed to another process) rather than
// this process's own, which os.Getenv reads. It does not change a list.
package envlist

import "strings"

// Get returns the value of key in env: the last KEY=VALUE entry's, as
// os/exec does when it removes duplicates; "" when key is absent.
func Get(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key); ok && strings.HasPrefix(v, "=") {
			return v[1:]
		}
	}
	return ""
}
