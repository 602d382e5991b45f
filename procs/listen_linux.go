//go:build linux

package procs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// tcpListen is the state number of LISTEN in /proc/net/tcp.
const tcpListen = "0A"

// listenersOn reads /proc/net/tcp and tcp6 for listening sockets on port,
// then /proc/*/fd for the processes holding them: the fd links of our own
// processes (all of them as root) read "socket:[INODE]".
func listenersOn(ctx context.Context, port int) ([]Listener, error) {
	socks := map[string]listenSock{} // by inode
	var inodes []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			if f == "/proc/net/tcp6" && os.IsNotExist(err) {
				continue // No IPv6 in this kernel.
			}
			return nil, fmt.Errorf("read the socket table: %w", err)
		}
		for _, e := range parseTCPTable(b) {
			if e.state != tcpListen || e.port != port {
				continue
			}
			if _, seen := socks[e.inode]; !seen {
				inodes = append(inodes, e.inode)
			}
			socks[e.inode] = listenSock{addr: e.addr, uid: e.uid}
		}
	}
	if len(socks) == 0 {
		return nil, nil
	}
	holders := socketHolders(ctx, socks)
	r, err := newStatReader()
	if err != nil {
		return nil, err
	}
	var out []Listener
	for _, ino := range inodes {
		s := socks[ino]
		base := Listener{Addr: s.addr, Port: port, UID: s.uid, User: userName(s.uid)}
		pids := holders[ino]
		if len(pids) == 0 {
			out = append(out, base)
			continue
		}
		for _, pid := range pids {
			l := base
			st, err := r.read(ctx, pid)
			if err != nil {
				continue // Exited since.
			}
			l.Proc = Proc{PID: pid, Start: st.start}
			dir := "/proc/" + strconv.Itoa(pid)
			if b, err := os.ReadFile(dir + "/cmdline"); err == nil {
				l.Command = joinCommand(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"))
			}
			l.Cwd, _ = os.Readlink(dir + "/cwd") // Not visible: left empty.
			if b, err := os.ReadFile(dir + "/environ"); err == nil {
				l.Marker = markerValue(strings.Split(string(b), "\x00"))
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// listenSock is a listening socket of the table.
type listenSock struct {
	addr string
	uid  int
}

// socketHolders maps each of the socket inodes to the pids whose open
// files include it, in pid order. Processes whose fds we may not read
// (other users', unless root) are skipped.
func socketHolders(ctx context.Context, inodes map[string]listenSock) map[string][]int {
	out := map[string][]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || ctx.Err() != nil {
			continue
		}
		fdDir := filepath.Join("/proc", e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			ino, ok := strings.CutPrefix(link, "socket:[")
			if err != nil || !ok {
				continue
			}
			ino = strings.TrimSuffix(ino, "]")
			if _, want := inodes[ino]; want && !slices.Contains(out[ino], pid) {
				out[ino] = append(out[ino], pid)
			}
		}
	}
	return out
}

// tcpEntry is one line of /proc/net/tcp or tcp6.
type tcpEntry struct {
	addr  string // "127.0.0.1:3000", "[::1]:3000"
	port  int
	state string // hex, as the table gives it
	uid   int
	inode string
}

// parseTCPTable parses /proc/net/tcp{,6}: after a header line, each line
// is "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...",
// addresses as hex IP (in host byte order by 32-bit word) ":" hex port.
// Lines it cannot parse are skipped.
func parseTCPTable(b []byte) []tcpEntry {
	var out []tcpEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	sc.Scan() // The header.
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		hexIP, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err1 := strconv.ParseUint(hexPort, 16, 16)
		uid, err2 := strconv.Atoi(f[7])
		ip, err3 := parseHexIP(hexIP)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		out = append(out, tcpEntry{addr: net.JoinHostPort(ip.String(), strconv.Itoa(int(port))), port: int(port),
			state: strings.ToUpper(f[3]), uid: uid, inode: f[9]})
	}
	return out
}

// parseHexIP reads the kernel's hex address: 8 or 32 hex digits, each
// group of 4 bytes in little-endian order (the x86 and arm64 host order;
// the kernel prints the 32-bit words as they are in memory).
func parseHexIP(s string) (net.IP, error) {
	b, err := hex.DecodeString(s)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b), nil
}

// ListenTable is the machine's listening TCP sockets, read once
// (/proc/net/tcp and tcp6), so that the ports of many tasks cost one read
// of the tables and one look at each of their processes' open files, not
// a read of the tables per process.
type ListenTable struct{ byInode map[string]tcpEntry }

// ReadListenTable reads the listening sockets.
func ReadListenTable() (*ListenTable, error) {
	lt := &ListenTable{byInode: map[string]tcpEntry{}}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			if f == "/proc/net/tcp6" && os.IsNotExist(err) {
				continue // No IPv6 in this kernel.
			}
			return nil, fmt.Errorf("read the socket table: %w", err)
		}
		for _, e := range parseTCPTable(b) {
			if e.state == tcpListen {
				lt.byInode[e.inode] = e
			}
		}
	}
	return lt, nil
}

// listening adds to u the listening sockets pid holds, as its open files
// name them ("socket:[INODE]").
func (lt *ListenTable) listening(pid int, u *Usage) error {
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return err
	}
	for _, fd := range fds {
		link, err := os.Readlink(fdDir + "/" + fd.Name())
		ino, ok := strings.CutPrefix(link, "socket:[")
		if err != nil || !ok {
			continue
		}
		if e, ok := lt.byInode[strings.TrimSuffix(ino, "]")]; ok {
			u.addListener(e.addr, e.port)
		}
	}
	return nil
}
