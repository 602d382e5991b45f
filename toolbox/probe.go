package toolbox

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// probeTimeout bounds one wait_url attempt: a server that accepts and
// never answers is tried again, not waited on.
const probeTimeout = 2 * time.Second

// probeURL asks rawURL once and returns the HTTP status of its answer, 0
// when there is none yet. It speaks just enough HTTP/1.1 for that (one
// GET, the status line) rather than linking net/http, whose start-up
// cost every tool call would pay. An https:// URL is ready when its port
// accepts a connection: TLS is not spoken, so a dev server's self-signed
// certificate is no obstacle; a connection counts as status 200.
func probeURL(ctx context.Context, rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return 0
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return 0
	}
	defer func() { _ = conn.Close() }() // Only the status matters.
	if u.Scheme == "https" {
		return 200
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl) // A deadline the read below then honours; failure only loses the bound.
	}
	path := u.RequestURI()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bgtask\r\nAccept: */*\r\nConnection: close\r\n\r\n", path, u.Host); err != nil {
		return 0
	}
	return statusCode(bufio.NewReader(conn))
}

// statusCode reads an HTTP status line ("HTTP/1.1 200 OK") and returns
// its code, 0 when it is not one.
func statusCode(r *bufio.Reader) int {
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		return 0
	}
	proto, rest, ok := strings.Cut(strings.TrimSpace(line), " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/") || len(rest) < 3 {
		return 0
	}
	code, err := strconv.Atoi(rest[:3])
	if err != nil || code < 100 || code > 999 {
		return 0
	}
	return code
}
