package promptwake

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The test binary, run with helperEnv set, is a child that waits: the
// test reads its scheduling attributes.
const helperEnv = "PROMPTWAKE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		time.Sleep(time.Minute) // Ended by the test, by pid.
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// sliceOf reads a thread's slice from /proc (…/sched's se.slice, in ns);
// the test skips on a kernel that does not show it.
func sliceOf(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no %s: %v", path, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(name) == "se.slice" {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("%s: se.slice %q", path, v)
			}
			return n
		}
	}
	t.Skipf("%s shows no se.slice (a kernel before 6.12 has no custom slices)", path)
	return 0
}

func getattr(t *testing.T) attr {
	t.Helper()
	var a attr
	if _, _, e := syscall.RawSyscall6(sysSchedGetattr, 0, uintptr(unsafe.Pointer(&a)), uintptr(attrSize), 0, 0, 0); e != 0 {
		t.Fatalf("sched_getattr: %v", e)
	}
	return a
}

// A thread that asks gets the short slice at its own policy and nice;
// a process it starts gets the default slice.
func TestThreadGetsAShortSliceItsChildrenDoNot(t *testing.T) {
	if sysSchedGetattr == 0 {
		t.Skip("not asked on this architecture")
	}
	runtime.LockOSThread() // Never unlocked: the thread ends with the test's goroutine.
	self := "/proc/thread-self/sched"
	before := sliceOf(t, self)
	was := getattr(t)
	Thread()
	if got := sliceOf(t, self); got != slice {
		t.Fatalf("the thread's slice is %d ns after asking, want %d (it was %d)", got, slice, before)
	}
	now := getattr(t)
	if now.policy != was.policy || now.nice != was.nice || now.priority != was.priority {
		t.Errorf("asking changed the thread's policy, nice or priority: %+v, was %+v", now, was)
	}
	if now.flags&flagResetOnFork == 0 {
		t.Error("the thread would pass its slice on to what it starts")
	}

	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), helperEnv+"=1")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Process.Kill(); _ = c.Wait() }() // Ours, by pid.
	if got := sliceOf(t, "/proc/"+strconv.Itoa(c.Process.Pid)+"/sched"); got == slice {
		t.Errorf("a child started from the prompt thread has its slice, %d ns", got)
	}
}

// A thread outside the normal policy is not asked.
func TestABatchThreadIsNotAsked(t *testing.T) {
	if sysSchedGetattr == 0 {
		t.Skip("not asked on this architecture")
	}
	runtime.LockOSThread() // Never unlocked: the thread ends with the test's goroutine.
	a := getattr(t)
	const schedBatch = 3
	a.policy = schedBatch
	if _, _, e := syscall.RawSyscall(sysSchedSetattr, 0, uintptr(unsafe.Pointer(&a)), 0); e != 0 {
		t.Skipf("sched_setattr SCHED_BATCH: %v", e)
	}
	before := sliceOf(t, "/proc/thread-self/sched")
	Thread()
	if got := sliceOf(t, "/proc/thread-self/sched"); got != before {
		t.Errorf("a SCHED_BATCH thread's slice went from %d to %d ns", before, got)
	}
	if got := getattr(t); got.policy != schedBatch {
		t.Errorf("its policy became %d", got.policy)
	}
}
