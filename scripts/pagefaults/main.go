// Command pagefaults measures what a page fault costs a short-lived
// process on this machine: it runs itself as a child that touches N fresh
// pages of heap and exits, alternating N=0 and N=-pages, and prints the
// medians, the extra faults (from the children's rusage) and the cost
// of one. On a VM whose faults are slow, that cost times the faults a
// tool call takes is most of what separates it from a bare program's
// start (BENCHMARKS.md, "Round 5").
//
//	go run ./scripts/pagefaults -pages 400 -rounds 300
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// touchEnv makes the program the child: touch that many pages, exit.
const touchEnv = "PAGEFAULTS_TOUCH"

func main() {
	if n := os.Getenv(touchEnv); n != "" {
		pages, _ := strconv.Atoi(n)
		b := make([]byte, pages*os.Getpagesize())
		for i := 0; i < len(b); i += os.Getpagesize() {
			b[i] = 1
		}
		return
	}
	pages := flag.Int("pages", 400, "fresh pages the second child touches")
	rounds := flag.Int("rounds", 300, "runs of each child, alternating")
	flag.Parse()
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var wall [2][]float64
	var faults [2][]int64
	for range *rounds {
		for i, n := range []int{0, *pages} {
			c := exec.Command(exe)
			c.Env = append(os.Environ(), touchEnv+"="+strconv.Itoa(n))
			start := time.Now()
			if err := c.Run(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			wall[i] = append(wall[i], float64(time.Since(start).Microseconds())/1000)
			faults[i] = append(faults[i], c.ProcessState.SysUsage().(*syscall.Rusage).Minflt)
		}
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	medianInt := func(v []int64) int64 { slices.Sort(v); return v[len(v)/2] }
	w0, w1 := median(wall[0]), median(wall[1])
	f0, f1 := medianInt(faults[0]), medianInt(faults[1])
	fmt.Printf("touching no page: %.2f ms, %d minor faults\n", w0, f0)
	fmt.Printf("touching %d pages: %.2f ms, %d minor faults\n", *pages, w1, f1)
	fmt.Printf("one fault: %.1f µs (%d rounds)\n", (w1-w0)*1000/float64(f1-f0), *rounds)
}
