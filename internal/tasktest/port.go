package tasktest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
)

// FreeAddr returns an address of 127.0.0.1 ("127.0.0.1:port") that is free
// now, for a server a test starts, and its port. The port is below the
// kernel's ephemeral range (ip_local_port_range), where no bind to port 0
// lands: a port picked by listening on port 0 and closing was given, once,
// to another test binary's listener running in parallel before the
// test's server bound it ("already accepting connections", in the toolbox
// tests under `go test ./...`). Within a test binary no port is handed
// out twice.
func FreeAddr(t testing.TB) (addr string, port int) {
	t.Helper()
	low := ephemeralLow()
	for range 1000 {
		port = 10000 + rand.IntN(low-10000)
		if !handedOut.claim(port) {
			continue
		}
		addr = fmt.Sprintf("127.0.0.1:%d", port)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // Held by someone: another.
		}
		_ = l.Close() // Best effort: free for the test's server.
		return addr, port
	}
	t.Fatalf("no free port of 127.0.0.1 between 10000 and %d", low)
	return "", 0
}

// ephemeralLow is the lowest port the kernel picks for a bind to port 0,
// or Linux's default when it cannot be read.
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if n, _ := fmt.Sscan(string(b), &lo, &hi); n == 2 && lo > 11000 {
			low = lo
		}
	}
	return low
}

var handedOut = &portSet{seen: map[int]bool{}}

type portSet struct {
	mu   sync.Mutex
	seen map[int]bool
}

// claim reports whether port was not handed out before, and marks it.
func (s *portSet) claim(port int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[port] {
		return false
	}
	s.seen[port] = true
	return true
}
