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
// when there is none, and whether its port accepted the connection. It
// speaks just enough HTTP/1.1 for that (one GET, the status line) rather
// than linking net/http, whose start-up cost every tool call would pay.
// For an https:// URL it only connects: the lean build links no TLS, so
// it reports the port accepting and no status (nothing it did not see; a
// dev server's self-signed certificate is then no obstacle either).
func probeURL(ctx context.Context, rawURL string) (status int, accepting bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return 0, false
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
		return 0, false
	}
	defer func() { _ = conn.Close() }() // Only the status matters.
	if u.Scheme == "https" {
		return 0, true
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl) // A deadline the read below then honours; failure only loses the bound.
	}
	path := u.RequestURI()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bgtask\r\nAccept: */*\r\nConnection: close\r\n\r\n", path, u.Host); err != nil {
		return 0, true
	}
	return statusCode(bufio.NewReader(conn)), true
}

// localPort returns the port of rawURL when its host is this machine
// (localhost, a loopback or unspecified address, an address of one of its
// interfaces), where the task's own processes must be the ones listening;
// 0 for another host, whose listeners cannot be known.
func localPort(rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return urlPort(rawURL)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return 0 // A name: another machine, as far as we can tell.
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return urlPort(rawURL)
	}
	addrs, _ := net.InterfaceAddrs() // None known: treated as another host.
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return urlPort(rawURL)
		}
	}
	return 0
}

// urlPort is the port rawURL names, its scheme's default when none.
func urlPort(rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return p
	}
	return map[string]int{"http": 80, "https": 443}[u.Scheme]
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
