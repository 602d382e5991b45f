// Package smalldisk gives tests a full disk: a small tmpfs mounted on a
// folder of the test, and ways to fill it (space, or inodes). Mounting
// needs root and mount(8); where either is missing the test is skipped,
// and CI, which runs as root, runs it. It does not touch any file system
// it did not mount.
package smalldisk

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Mount mounts a tmpfs with opts (as mount -o takes them: "size=2m",
// "nr_inodes=64") on dir until the test ends, or skips the test. Before
// unmounting, the cleanup runs before (nil: nothing), which ends what
// still holds files there.
func Mount(t testing.TB, dir, opts string, before func()) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: -short")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root and mount(8), from util-linux; CI runs it): %v %s", err, out)
	}
	t.Cleanup(func() {
		if before != nil {
			before()
		}
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
}

// FillSpace fills the file system holding path with the file path until
// only free bytes are left.
func FillSpace(t testing.TB, path string, free int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // Written or failed below already.
	var n int64
	for err == nil {
		var w int
		w, err = f.Write(make([]byte, 4<<10))
		n += int64(w)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v", err)
	}
	if err := f.Truncate(max(n-free, 0)); err != nil {
		t.Fatal(err)
	}
}

// FillInodes takes the file system's last inodes with empty files named
// after path.
func FillInodes(t testing.TB, path string) {
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
