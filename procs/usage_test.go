package procs

import (
	"context"
	"os"
	"testing"

	"github.com/shirou/gopsutil/v3/process"
)

// TestTreeUsageOfThisProcess: the figures read from /proc/PID/stat agree
// with gopsutil's, and a start time that is not the process's counts
// nothing (the PID went to another process).
func TestTreeUsageOfThisProcess(t *testing.T) {
	ctx := context.Background()
	self, err := Lookup(ctx, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	u, err := TreeUsageWith(ctx, []Proc{self}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gp, err := process.NewProcessWithContext(ctx, int32(self.PID))
	if err != nil {
		t.Fatal(err)
	}
	mi, err := gp.MemoryInfoWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Processes != 1 || u.RSSBytes == 0 || u.RSSBytes > 2*mi.RSS || 2*u.RSSBytes < mi.RSS {
		t.Errorf("usage %+v, gopsutil RSS %d", u, mi.RSS)
	}
	if u.CPUPercent < 0 {
		t.Errorf("CPU %.1f%%", u.CPUPercent)
	}
	if other, _ := TreeUsageWith(ctx, []Proc{{PID: self.PID, Start: self.Start - 60_000}}, nil); other.Processes != 0 {
		t.Errorf("a process of another start time counted: %+v", other)
	}
}
