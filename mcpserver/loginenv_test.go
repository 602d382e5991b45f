package mcpserver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
)

func TestLoginPathForABareDesktopPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A login shell whose profile adds a folder, and prints a banner.
	shell := filepath.Join(dir, "myshell")
	script := "#!/bin/sh\necho 'Welcome!'\nexport PATH=\"/opt/go/bin:$PATH\"\nshift 3\nexec /bin/sh -c \"$1\"\n"
	if err := os.WriteFile(shell, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	a := toolboxtest.NewApp(t, "SHELL="+shell, "PATH=/usr/bin:/bin")
	a.Environ = []string{"PATH=/usr/bin:/bin", "SHELL=" + shell}
	if got := loginPath(t.Context(), a); got != "/opt/go/bin:/usr/bin:/bin" {
		t.Fatalf("login PATH %q", got)
	}
	b := toolboxtest.NewApp(t, "SHELL="+shell, "PATH=/home/me/go/bin:/usr/bin")
	if got := loginPath(t.Context(), b); got != "" {
		t.Fatalf("a PATH that is not bare must be kept, got %q", got)
	}
	if env := setEnv([]string{"A=1", "PATH=/x", "B=2"}, "PATH", "/y"); len(env) != 3 || env[2] != "PATH=/y" {
		t.Fatalf("setEnv: %v", env)
	}
}
