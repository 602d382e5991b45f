package helperproc

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// unusedEnv makes TestMain register a helper no test starts, for
// TestUnusedHelperFailsTheRun's child run.
const unusedEnv = "HELPERPROC_TEST_UNUSED"

func TestMain(m *testing.M) {
	r := &helpers
	r.Register("hang", Hang)
	r.Register("tree", Tree)
	r.Register("echo-args", func(args []string) int {
		for _, a := range args {
			os.Stdout.WriteString(a + "\n")
		}
		return 3
	})
	if os.Getenv(unusedEnv) != "" {
		r.Register("never", Hang)
	}
	r.Main(m)
}

// helpers is this package's registry, filled by TestMain.
var helpers Registry

func TestUnusedHelperFailsTheRun(t *testing.T) {
	t.Parallel()
	if os.Getenv(unusedEnv) != "" {
		t.Skip("the child run of this test")
	}
	// A full run (no -run) of this package's tests, with one more helper.
	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), unusedEnv+"=1")
	out, err := c.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("run with an unused helper: %v, want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "registered helpers no test started: never\n") {
		t.Fatalf("the run does not name the unused helper:\n%s", out)
	}
	// The same run limited by -run does not judge what it did not run.
	c = exec.Command(os.Args[0], "-test.run=TestShellQuotesArguments")
	c.Env = append(os.Environ(), unusedEnv+"=1")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("a -run run failed over an unused helper: %v\n%s", err, out)
	}
}

func TestShellQuotesArguments(t *testing.T) {
	t.Parallel()
	args := []string{"it's", "a b", "$HOME", ""}
	out, err := exec.Command("bash", "-c", helpers.Shell("echo-args", args...)).Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("helper through bash: %v, want its exit code 3", err)
	}
	if got, want := string(out), strings.Join(args, "\n")+"\n"; got != want {
		t.Fatalf("helper got %q, want %q", got, want)
	}
}

func TestTreeLevels(t *testing.T) {
	t.Parallel()
	for _, opt := range []string{"", "daemon"} {
		t.Run("opt="+opt, func(t *testing.T) {
			var args []string
			if opt != "" {
				args = append(args, opt)
			}
			c := helpers.Command("tree", args...)
			c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			out, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			var leaf int
			t.Cleanup(func() {
				_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL) // Best effort: root and mid.
				if leaf > 0 {
					_ = syscall.Kill(-leaf, syscall.SIGKILL) // The leaf leads its own session.
				}
				_ = c.Wait()
			})
			sc := bufio.NewScanner(out)
			var levels []string
			for len(levels) < 3 && sc.Scan() {
				level, pid, _ := strings.Cut(sc.Text(), " ")
				levels = append(levels, level)
				if level == "leaf" {
					for _, ch := range pid {
						leaf = leaf*10 + int(ch-'0')
					}
				}
			}
			if !strings.Contains(strings.Join(levels, " "), "leaf") || len(levels) != 3 {
				t.Fatalf("tree printed levels %v, want tree, mid and leaf", levels)
			}
			if leaf <= 0 {
				t.Fatal("no leaf PID")
			}
			if sid, err := getsid(leaf); err != nil || sid != leaf {
				t.Fatalf("leaf session %d (%v), want its own (%d)", sid, err, leaf)
			}
		})
	}
}

func TestHangIsReady(t *testing.T) {
	t.Parallel()
	c := helpers.Command("hang")
	out, _ := c.StdoutPipe()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("hang printed %q (%v)", line, err)
	}
}

func getsid(pid int) (int, error) {
	sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(pid), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(sid), nil
}
