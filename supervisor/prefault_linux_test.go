package supervisor

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// rssFile is this process's resident file-backed memory, in kB.
func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status (a kernel before 4.5)")
	return 0
}

// prefaultImage maps the program's code in: a test binary has run little
// of its own code, so what is resident of it grows.
func TestPrefaultImageMapsTheProgramIn(t *testing.T) {
	before := rssFile(t)
	if err := prefaultImage(); errors.Is(err, syscall.EINVAL) {
		t.Skip("MADV_POPULATE_READ is not known to this kernel (it needs Linux 5.14)")
	} else if err != nil {
		t.Fatal(err)
	}
	if after := rssFile(t); after <= before {
		if image := imageKB(t); before >= image*9/10 {
			// A run before this one in this process (go test -count=N).
			t.Skipf("the program's image (%d kB) is mapped in already (%d kB resident)", image, before)
		}
		t.Errorf("resident file-backed memory %d kB before, %d kB after: nothing mapped in", before, after)
	}
}

// imageKB is the size of this program's read-only mappings of its own
// file, which prefaultImage maps in, in kB.
func imageKB(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	var kb uint64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[5] != exe || (f[1] != "r-xp" && f[1] != "r--p") {
			continue
		}
		from, to, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(from, 16, 64)
		end, err2 := strconv.ParseUint(to, 16, 64)
		if err1 == nil && err2 == nil && end > start {
			kb += (end - start) / 1024
		}
	}
	return int(kb)
}
