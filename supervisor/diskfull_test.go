package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// On a disk with no room for the outcome's new files, and no rotated log
// segment of the task's to free, the supervisor writes the status in
// place: the task does not stay "running", and its current output is
// kept (before, both logs were emptied to make room). Out of space and
// out of inodes alike.
func TestTheOutcomeIsRecordedInPlaceOnAFullDisk(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		mount string // tmpfs options
		fill  func(t *testing.T, dir string)
	}{
		{"no space", "size=1m", fillSpace},
		{"no inodes", "size=16m,nr_inodes=64", fillInodes},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := Store{Dir: mountSmallTmpfs(t, c.mount)}
			task, err := s.Start(context.Background(), Request{Command: "echo before the disk filled; " + helpers.Shell("hang"), Cwd: t.TempDir(), Env: os.Environ(), Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = syscall.Kill(-task.Root.PID, syscall.SIGKILL) // Best effort: ended by Stop below, unless it failed.
			})
			poll(t, 30*time.Second, "the task's first line in its log", func() bool {
				b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout"))
				return len(b) > 0
			})
			c.fill(t, filepath.Join(s.Dir, "filler"))
			end, err := s.Stop(context.Background(), task, time.Second)
			if err != nil {
				t.Fatalf("stop on a full disk: %v", err)
			}
			if end.Status != StatusKilled || end.StopNote != "" {
				t.Fatalf("stop on a full disk: status %s, note %q; want killed, recorded", end.Status, end.StopNote)
			}
			poll(t, 30*time.Second, "the supervisor to exit", func() bool { return syscall.Kill(end.Watchdog.PID, 0) != nil })
			got, err := s.Load(task.ID)
			if err != nil || got.Status != StatusKilled {
				t.Fatalf("the record: %+v, %v; want killed", got, err)
			}
			if b, _ := os.ReadFile(filepath.Join(task.Dir, "stdout")); !strings.Contains(string(b), "before the disk filled") {
				t.Errorf("stdout after the outcome was recorded: %q; want the output kept", b)
			}
		})
	}
}

// mountSmallTmpfs mounts a tmpfs with opts on a folder of the test until
// it ends, or skips the test where that is not possible.
func mountSmallTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: -short")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root and mount(8), from util-linux; CI runs it): %v %s", err, out)
	}
	t.Cleanup(func() {
		var out []byte
		var err error
		for range 50 {
			if out, err = exec.Command("umount", dir).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // Busy: a process is still closing its files.
		}
		t.Errorf("umount: %v %s", err, out)
		_ = exec.Command("umount", "-l", dir).Run() // Best effort: detach it at least.
	})
	return dir
}

// fillSpace fills the file system holding path with the file path.
func fillSpace(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // Written or failed below already.
	for err == nil {
		_, err = f.Write(make([]byte, 4<<10))
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v", err)
	}
}

// fillInodes takes the file system's last inodes with empty files named
// after path.
func fillInodes(t *testing.T, path string) {
	t.Helper()
	for i := 0; ; i++ {
		f, err := os.Create(fmt.Sprintf("%s-%d", path, i))
		if errors.Is(err, syscall.ENOSPC) {
			return
		}
		if err != nil {
			t.Fatalf("taking the inodes: %v", err)
		}
		_ = f.Close() // Empty.
	}
}
