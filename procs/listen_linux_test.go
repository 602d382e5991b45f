//go:build linux

package procs

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Lines as Linux prints them (x86-64 and arm64 are little-endian).
func TestParseTCPTable(t *testing.T) {
	t.Parallel()
	tab := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n" +
		"   1: 00000000:1F90 00000000:0000 0a 00000000:00000000 00:00000000 00000000     0        0 77 1\n" +
		"   2: 0100007F:0BB8 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 5 1\n" +
		"   3: garbage\n" +
		"   4: 0100007F:XYZ 00000000:0000 0A 0 0 0 0 0 6\n"
	tab6 := "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000000000000000000001000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 9 1\n" +
		"   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10 1\n"
	got := append(parseTCPTable([]byte(tab)), parseTCPTable([]byte(tab6))...)
	want := []tcpEntry{
		{"127.0.0.1:3000", 3000, "0A", 1000, "4242"},
		{"0.0.0.0:8080", 8080, "0A", 0, "77"},
		{"127.0.0.1:3000", 3000, "01", 1000, "5"},
		{"[::1]:3000", 3000, "0A", 999, "9"},
		{"[::]:80", 80, "0A", 0, "10"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parsed\n%v\nwant\n%v", got, want)
	}
}

func FuzzParseTCPTable(f *testing.F) {
	f.Add([]byte("h\n   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1\n"))
	f.Add([]byte("h\n 0: 00000000000000000000000001000000:0BB8 0:0 0A 0 0 0 0 0 9\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range parseTCPTable(b) { // Must not panic.
			if e.port < 0 || e.port > 65535 || !strings.HasSuffix(e.addr, ":"+strconv.Itoa(e.port)) {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}
