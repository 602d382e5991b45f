package toolbox

import (
	"bufio"
	"strings"
	"testing"
)

func TestStatusCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"HTTP/1.1 200 OK\r\n", 200},
		{"HTTP/1.0 404 Not Found\r\n", 404},
		{"HTTP/1.1 503\r\n", 503},
		{"HTTP/2 301 Moved\n", 301},
		{"SSH-2.0-OpenSSH_9.2\r\n", 0},
		{"HTTP/1.1 2x0 OK\r\n", 0},
		{"HTTP/1.1 99 Odd\r\n", 0},
		{"", 0},
		{"HTTP/1.1", 0},
	} {
		if got := statusCode(bufio.NewReader(strings.NewReader(tt.in))); got != tt.want {
			t.Errorf("statusCode(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func FuzzStatusCode(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\n")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		if c := statusCode(bufio.NewReader(strings.NewReader(s))); c != 0 && (c < 100 || c > 999) {
			t.Fatalf("status %d from %q", c, s)
		}
	})
}

// An https:// URL: the port accepting is what is observed (no TLS is
// spoken), with no status; a closed port or a bad URL is not accepting.
func TestProbeURLHTTPSIsAConnection(t *testing.T) {
	t.Parallel()
	l := listenFree(t)
	addr := l.Addr().String()
	if code, ok := probeURL(t.Context(), "https://"+addr+"/"); code != 0 || !ok {
		t.Errorf("listening https port: status %d, accepting %v; want no status, accepting", code, ok)
	}
	_ = l.Close() // Best effort.
	if code, ok := probeURL(t.Context(), "https://"+addr+"/"); code != 0 || ok {
		t.Errorf("closed port: %d %v", code, ok)
	}
	if code, ok := probeURL(t.Context(), "http://%zz"); code != 0 || ok {
		t.Errorf("bad URL: %d %v", code, ok)
	}
}
