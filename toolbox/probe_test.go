package toolbox

import (
	"bufio"
	"net"
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

// An https:// URL is ready once its port accepts a connection, whatever
// it then says: no TLS is spoken, so a self-signed certificate is fine.
func TestProbeURLHTTPSIsAConnection(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if got := probeURL(t.Context(), "https://"+addr+"/"); got != 200 {
		t.Errorf("listening https port: %d, want 200", got)
	}
	_ = l.Close() // Best effort.
	if got := probeURL(t.Context(), "https://"+addr+"/"); got != 0 {
		t.Errorf("closed port: %d, want 0", got)
	}
	if got := probeURL(t.Context(), "http://%zz"); got != 0 {
		t.Errorf("bad URL: %d", got)
	}
}
