package pcapfile

import (
	"errors"
	"testing"

	"github.com/tapwire/tapwire/drivers"
)

// FuzzReader: any input ends in io.EOF or an error without a panic, every
// frame keeps the Frame contract, and the result does not depend on the
// read buffer's size (big records are checked whole in a 1 MiB buffer and
// as they stream past in a 64-byte one).
func FuzzReader(f *testing.F) {
	for _, c := range okCases() {
		if len(c.data) < 4096 {
			f.Add(c.data)
		}
	}
	for _, c := range damageCases() {
		if len(c.data) < 4096 {
			f.Add(c.data)
		}
	}
	f.Add(newNg(le).idb(1, 0).idb(101, 0).idb(195, 0).epb(1, 1, ethFrame(1)[14:]).epb(2, 1, []byte{1}).epb(0, 2, ethFrame(2)).b)
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, err := readBytes(b, 64)
		for i, fr := range frames {
			if !fr.Link.Supported() || fr.OrigLen < len(fr.Data) || len(fr.Data) > maxCapLen {
				t.Fatalf("frame %d breaks the contract: link %v, %d of %d bytes", i+1, fr.Link, len(fr.Data), fr.OrigLen)
			}
		}
		if err != nil && !errors.Is(err, drivers.ErrDamaged) && !errors.Is(err, drivers.ErrFormat) &&
			!errors.Is(err, drivers.ErrUnsupportedLink) {
			t.Fatalf("error outside the vocabulary: %v", err)
		}
		if got, want := summary(frames, err), summary(readBytes(b, bufSize)); got != want {
			t.Fatalf("64-byte buffer:\n%s\n1 MiB buffer:\n%s", got, want)
		}
	})
}
