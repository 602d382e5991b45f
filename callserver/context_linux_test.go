package callserver

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// The scheduling items read with sched_getattr name what the stat file
// would have said alike (the fallback where sched_getattr is refused), so
// that a refusal names the same item either way: a caller run under
// `nice -n 7`.
func TestSchedIsReadAlikeBothWays(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nice"); err != nil {
		helpers.MaySkip("hang")
		t.Skip("nice is not installed (Debian package coreutils)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("nice", "-n", "7", exe)
	c.Env = append(os.Environ(), helpers.EnvFor("hang"))
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Process.Kill() // Ours, by pid.
		_ = c.Wait()
	})
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil { // "ready": nice has run it.
		t.Fatal(err)
	}
	pid := c.Process.Pid
	attr, err := schedAttr(pid)
	if err != nil {
		t.Skipf("sched_getattr refused here (%v): the stat file is all there is", err)
	}
	dir, err := syscall.Open("/proc/"+strconv.Itoa(pid), syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(dir)
	stat, err := schedFromStat(dir, "/proc/"+strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(stat, "nice 7") {
		t.Errorf("from stat: %q, want nice 7 among them", stat)
	}
	for _, item := range stat {
		if !slices.Contains(attr, item) {
			t.Errorf("sched_getattr says %q, without the stat file's %q", attr, item)
		}
	}
}

// BenchmarkReadContext is the server's check of one caller's process,
// which every call through the server pays for:
//
//	go test -run '^$' -bench ReadContext ./callserver
func BenchmarkReadContext(b *testing.B) {
	pid := os.Getppid() // Another process than this one, as a caller is.
	for b.Loop() {
		if _, err := readContext(pid); err != nil {
			b.Fatal(err)
		}
	}
}
