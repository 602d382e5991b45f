// Command stackbench measures the time from starting a Procfile's
// services to every one accepting connections on its PORT: `bgtask up`
// against node-foreman's `nf start` (npm package foreman), same Procfile,
// both timed the same way: from starting the runner to the last port
// accepting a TCP connection, polled every 5 ms. Runs alternate between
// the two, so that the load of the machine weighs on both alike; it
// prints each median and their ratio.
//
//	go run ./scripts/stackbench -bgtask /tmp/bgtask -nf /tmp/nf/node_modules/.bin/nf -runs 15
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	bgtask := flag.String("bgtask", "", "the bgtask binary (go build -o /tmp/bgtask ./cmd/bgtask)")
	nf := flag.String("nf", "", "node-foreman's nf (npm install foreman@3.0.1)")
	runs := flag.Int("runs", 15, "runs of each")
	services := flag.Int("services", 3, "Procfile entries, each a Node HTTP server on its PORT")
	flag.Parse()
	if *bgtask == "" || *nf == "" {
		flag.Usage()
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "stackbench")
	check(err)
	defer os.RemoveAll(dir)
	var procfile strings.Builder
	var ports []int
	for i := range *services {
		fmt.Fprintf(&procfile, "web%d: node -e \"require('http').createServer((q, r) => r.end('ok')).listen(process.env.PORT, '127.0.0.1')\"\n", i)
		ports = append(ports, 5000+100*i)
	}
	check(os.WriteFile(filepath.Join(dir, "Procfile"), []byte(procfile.String()), 0o600))
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PORT=") })
	env = append(env, "TASKS_DIR="+filepath.Join(dir, "state"), "BG_NOTIFY=never")

	var ours, theirs []time.Duration
	for range *runs {
		theirs = append(theirs, timeNF(*nf, dir, env, ports))
		ours = append(ours, timeUp(*bgtask, dir, env, ports))
	}
	mo, mt := median(ours), median(theirs)
	fmt.Printf("services: %d, runs: %d each\n", *services, *runs)
	fmt.Printf("bgtask up: median %v (min %v)\n", mo.Round(time.Millisecond), slices.Min(ours).Round(time.Millisecond))
	fmt.Printf("nf start:  median %v (min %v)\n", mt.Round(time.Millisecond), slices.Min(theirs).Round(time.Millisecond))
	fmt.Printf("ratio bgtask/nf: %.2f\n", float64(mo)/float64(mt))
}

// timeNF starts nf in its own process group, times it to every port
// accepting, and ends the group.
func timeNF(nf, dir string, env []string, ports []int) time.Duration {
	cmd := exec.Command(nf, "start")
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	check(cmd.Start())
	d := waitPorts(start, ports)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	waitClosed(ports)
	return d
}

// timeUp runs bgtask up, times it to every port accepting, and runs
// bgtask down.
func timeUp(bgtask, dir string, env []string, ports []int) time.Duration {
	cmd := exec.Command(bgtask, "up", "--wait-seconds", "0")
	cmd.Dir, cmd.Env = dir, env
	start := time.Now()
	check(cmd.Start())
	d := waitPorts(start, ports)
	_ = cmd.Wait()
	down := exec.Command(bgtask, "down")
	down.Dir, down.Env = dir, env
	if out, err := down.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "bgtask down: %v\n%s", err, out)
		os.Exit(1)
	}
	waitClosed(ports)
	return d
}

// waitPorts polls until every port accepts, and returns the time since start.
func waitPorts(start time.Time, ports []int) time.Duration {
	deadline := start.Add(60 * time.Second)
	for _, p := range ports {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), 100*time.Millisecond)
			if err == nil {
				_ = c.Close()
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "port %d not accepting after 60 s\n", p)
				os.Exit(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// waitClosed waits until no port accepts any more, for the next run.
func waitClosed(ports []int) {
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range ports {
		for time.Now().Before(deadline) {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), 100*time.Millisecond)
			if err != nil {
				break
			}
			_ = c.Close()
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
