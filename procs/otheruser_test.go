//go:build linux

package procs

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A process of another user that carries the task's marker (a task could
// have run sudo -u) is never signalled: neither found nor killed.
func TestKillTreeLeavesOtherUsersAlone(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	// The test binary must be readable and executable by nobody.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir's folders are 0700.
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "helper")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err == nil {
		_, err = io.Copy(dst, src)
		_ = dst.Close() // Checked through the copy's error and the exec below.
	}
	_ = src.Close() // Read only.
	if err != nil {
		t.Fatal(err)
	}
	marker := markerOf(t)
	var c *exec.Cmd
	var out io.ReadCloser
	// A child forked by a parallel test between our open of bin for
	// writing and its close holds that descriptor until it execs, and
	// the kernel refuses to run a file open for writing (ETXTBSY, Go
	// issue 22315): try again until that child has exec'd.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c = exec.Command(bin)
		c.Env = []string{helpers.EnvFor("hang"), MarkerEnv + "=" + marker}
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ = c.StdoutPipe()
		err := c.Start()
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ETXTBSY) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p, err := Lookup(context.Background(), c.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	res, err := KillTree(context.Background(), Target{Root: p, Marker: marker, Grace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Signalled) != 0 || !Alive(context.Background(), p) {
		t.Fatalf("another user's process was signalled: %+v", res)
	}
}
