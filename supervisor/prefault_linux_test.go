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
		t.Errorf("resident file-backed memory %d kB before, %d kB after: nothing mapped in", before, after)
	}
}
