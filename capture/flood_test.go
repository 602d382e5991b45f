package capture

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var gapMarker = regexp.MustCompile(`^\[\.\.\. (\d+) (?:lines rotated away unread|earlier lines omitted) \.\.\.\]$`)

// floodCheck follows the numbers a flood wrote through since-reads and
// holds the invariant: every delivered line is a whole line of the log, in
// order, never twice, and delivered plus reported-missing lines account
// for every line written.
type floodCheck struct {
	last      int // last number seen
	delivered int
	missing   int
}

func (c *floodCheck) take(t *testing.T, res ReadResult) {
	t.Helper()
	if res.Cursor > res.TotalLines {
		t.Fatalf("cursor %d past total_lines %d", res.Cursor, res.TotalLines)
	}
	// Every line shown is whole, and shown once: a line still being
	// written is held back, never shown in part and then again whole.
	for _, l := range res.Lines {
		if m := gapMarker.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			c.missing += n
			c.last += n
			continue
		}
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("line %q is not a whole line of the log (after %d)", l, c.last)
		}
		if n != c.last+1 {
			t.Fatalf("line %d follows %d: lines lost, repeated or out of order (read: %d lines, head %q, total %d cursor %d remaining %d unread %d)",
				n, c.last, len(res.Lines), res.Lines[:min(3, len(res.Lines))], res.TotalLines, res.Cursor, res.Remaining, res.Unread)
		}
		c.last = n
		c.delivered++
	}
}

// TestFloodInvariant writes numbered lines as fast as it can through a
// rotating Writer while a reader since-reads them, with generous and with
// minimal retention; see floodCheck for what must hold.
func TestFloodInvariant(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: floods of 400,000 lines (20 s and more)")
	}
	t.Parallel()
	const runs = 3
	for _, tc := range []struct {
		name    string
		maxB    int64
		backups int
		page    int
		lines   int
		torn    bool // writes end in the middle of a line, as seq's do
	}{
		{"generous", 256 << 10, 40, 5000, 400_000, false},
		{"minimal", 16 << 10, 1, 5000, 400_000, false},
		{"minimal-small-pages", 16 << 10, 1, 300, 400_000, false},
		// Rotations faster than a snapshot settles: the last attempt's
		// fallback (only what the index describes) keeps the order.
		{"tiny", 1 << 10, 1, 5000, 100_000, false},
		// A read between the two halves of a line must not show its head.
		{"torn-lines", 64 << 10, 4, 5000, 400_000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for run := 0; run < runs; run++ {
				floodOnce(t, tc.maxB, tc.backups, tc.page, tc.lines, tc.torn)
			}
		})
	}
}

func floodOnce(t *testing.T, maxBytes int64, backups, page, n int, torn bool) {
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: maxBytes, Backups: backups})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var stop atomic.Bool
	stopped := make(chan struct{})
	t.Cleanup(func() { stop.Store(true); <-stopped })
	go func() {
		defer close(stopped)
		r := rand.New(rand.NewPCG(uint64(n), 3))
		var buf []byte
		for i := 1; i <= n && !stop.Load(); i++ {
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, '\n')
			if len(buf) > 512+r.IntN(8192) || i == n {
				cut := len(buf)
				if torn && i < n {
					cut = len(buf) - 1 - r.IntN(3) // inside the last line
				}
				if _, err := w.Write(buf[:cut]); err != nil {
					done <- err
					return
				}
				buf = append(buf[:0], buf[cut:]...)
			}
		}
		done <- w.Close()
	}()
	var c floodCheck
	read := func() ReadResult {
		// A writer stalled past PartialQuiet (a loaded machine's disk or
		// scheduler) would have its half line shown as a quiet prompt:
		// the order checked here is that of whole lines.
		res, err := Read(dir, "stdout", ReadOptions{Since: true, Quiet: time.Hour, Clean: Options{Raw: true, MaxLines: page}})
		if err != nil {
			t.Fatalf("read after line %d: %v", c.last, err)
		}
		if os.Getenv("FLOOD_DEBUG") != "" {
			t.Logf("read %d lines head %q tail %q total %d cursor %d remaining %d", len(res.Lines), res.Lines[:min(2, len(res.Lines))], res.Lines[max(0, len(res.Lines)-2):], res.TotalLines, res.Cursor, res.Remaining)
		}
		c.take(t, res)
		return res
	}
	for writing := true; writing; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			writing = false
		default:
			read()
		}
	}
	for res := read(); res.Remaining > 0; res = read() {
	}
	if c.last != n || c.delivered+c.missing != n {
		t.Fatalf("delivered %d + reported missing %d = %d, last %d; wrote %d", c.delivered, c.missing, c.delivered+c.missing, c.last, n)
	}
}

func TestParallelSinceReadsOfOneReaderShareLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The first read sets the cursor at the start.
	if _, err := Read(dir, "stdout", ReadOptions{Since: true, Clean: Options{Raw: true}}); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	if _, err := w.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, err := Read(dir, "stdout", ReadOptions{Since: true, Clean: Options{Raw: true, MaxLines: 250}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, l := range res.Lines {
					seen[l]++
				}
				mu.Unlock()
				if len(res.Lines) == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct lines delivered, want %d", len(seen), n)
	}
	for l, k := range seen {
		if k != 1 {
			t.Fatalf("line %q delivered %d times", l, k)
		}
	}
}

// A segment cut mid-line whose head was deleted must not show its tail as
// a line: the error filter would miss its ERROR: prefix.
func TestNoCutLineAfterRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: 100, Backups: 1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	for i := 0; i < n; i++ {
		if _, err := fmt.Fprintf(w, "ERROR: connection to db-%d refused\n", i); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.Close()
	// lumberjack deletes old backups in the background: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		names, _ := backups(dir, "stdout")
		if len(names) <= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, o := range []ReadOptions{
		{Clean: Options{MaxLines: 1000}},
		{Clean: Options{Raw: true, MaxLines: 1000}},
		{Tail: 50, Clean: Options{Raw: true}},
		{Since: true, Clean: Options{Raw: true, MaxLines: 1000}},
	} {
		res, err := Read(dir, "stdout", o)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range res.Lines {
			if !strings.HasPrefix(l, "ERROR: connection to db-") && !isMarker([]byte(l)) {
				t.Fatalf("%+v: line %q is cut", o, l)
			}
		}
	}
	res, err := Read(dir, "stdout", ReadOptions{Clean: Options{Filter: "^ERROR", MaxLines: 5000, Raw: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(len(res.Lines)-1) + res.Unread; got != n {
		t.Fatalf("filtered read: %d lines + %d unread, want %d", len(res.Lines)-1, res.Unread, n)
	}
}

func TestLogsThatAreNotRegularFilesAreRefused(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("outside the state folder\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		make func(path string) error
	}{
		{"symlink", func(p string) error { return os.Symlink(outside, p) }},
		{"device", func(p string) error { return os.Symlink("/dev/zero", p) }},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o600) }},
		{"folder", func(p string) error { return os.Mkdir(p, 0o700) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.make(filepath.Join(dir, "stdout")); err != nil {
				t.Skip(err)
			}
			for _, o := range []ReadOptions{{}, {Since: true}, {Tail: 5}} {
				res, err := Read(dir, "stdout", o)
				if !errors.Is(err, ErrNotRegular) {
					t.Fatalf("read %+v: %v, %q; want ErrNotRegular", o, err, res.Lines)
				}
			}
		})
	}
}
