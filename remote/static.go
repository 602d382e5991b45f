package remote

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// ptInterp is the ELF program header type naming a dynamic loader.
const ptInterp = 3

// IsStaticELF reports whether the ELF file r needs no dynamic loader (no
// PT_INTERP program header): such a binary runs on any Linux of its
// architecture. It reads only the header and the program headers (no
// debug/elf: the lean binary stays small).
func IsStaticELF(r io.ReaderAt) (bool, error) {
	var h [64]byte
	if _, err := r.ReadAt(h[:], 0); err != nil && !(errors.Is(err, io.EOF) && string(h[:4]) == "\x7fELF") {
		return false, errors.New("not an ELF file")
	}
	if string(h[:4]) != "\x7fELF" {
		return false, errors.New("not an ELF file")
	}
	var bo binary.ByteOrder
	switch h[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return false, errors.New("ELF file of unknown byte order")
	}
	var off uint64
	var size, count uint16
	switch h[4] {
	case 1: // 32-bit
		off, size, count = uint64(bo.Uint32(h[0x1c:])), bo.Uint16(h[0x2a:]), bo.Uint16(h[0x2c:])
	case 2: // 64-bit
		off, size, count = bo.Uint64(h[0x20:]), bo.Uint16(h[0x36:]), bo.Uint16(h[0x38:])
	default:
		return false, errors.New("ELF file of unknown class")
	}
	if size < 4 || off > 1<<30 {
		return false, errors.New("ELF file with malformed program headers")
	}
	var typ [4]byte
	for i := range uint64(count) {
		if _, err := r.ReadAt(typ[:], int64(off+i*uint64(size))); err != nil {
			return false, errors.New("ELF file with truncated program headers")
		}
		if bo.Uint32(typ[:]) == ptInterp {
			return false, nil
		}
	}
	return true, nil
}

// isStaticFile is IsStaticELF on the file at path.
func isStaticFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	ok, err := IsStaticELF(f)
	return err == nil && ok
}
