package modbus

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/tapwire/tapwire/dissect"
)

// FuzzDecode feeds arbitrary bytes to every entry point, framing them as a
// stream and decoding each ADU in the direction the bits of dirs give, then
// the whole input as one ADU and as a bare PDU in both directions. It checks
// that nothing panics, Frame stays within MaxPDU, errors are malformed or
// truncated, and every event has a name and valid details JSON.
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		if c.before != nil {
			f.Add(cat(c.before, c.adu), uint8(0b10))
		}
		f.Add(c.adu, uint8(c.dir-1))
	}
	for _, s := range exchanges {
		f.Add(s.adu, uint8(s.dir-1))
	}
	f.Add(cat(reqReadDeviceID, respReadDeviceID, reqReadHoldingRegisters, respReadHoldingRegisters), uint8(0b1010))
	for _, adu := range captureADUs(300) {
		f.Add(adu, uint8(0))
	}

	f.Fuzz(func(t *testing.T, data []byte, dirs uint8) {
		h := newHarness(t)
		d := h.d
		check := func(e *dissect.Event, err error) {
			t.Helper()
			if err != nil && !errors.Is(err, dissect.ErrMalformed) && !errors.Is(err, dissect.ErrTruncated) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrTruncated", err)
			}
			if err != nil && err.Error() == "" {
				t.Fatal("empty error message")
			}
			if e == nil {
				return
			}
			if !e.HasFunc || e.Name == "" || e.Op == dissect.OpNone {
				t.Fatalf("event without function: %+v", e)
			}
			if !e.OK && e.Error == "" {
				t.Fatal("event not OK without an error")
			}
			if err != nil && e.OK {
				t.Fatalf("event OK with error %v", err)
			}
			js := e.Detail.AppendJSON(nil)
			if !json.Valid(js) {
				t.Fatalf("invalid details JSON %s", js)
			}
			it := e.Detail.(*Details).Objects()
			for it.Next() {
			}
			if it.Err() != nil {
				t.Fatalf("objects: %v", it.Err())
			}
		}

		d.Probe(data)
		d.PairKey(data)
		d.Classify(data)

		// As a stream.
		for b, i := data, 0; len(b) > 0; i++ {
			n, err := d.Frame(b)
			if n > d.MaxPDU() {
				t.Fatalf("Frame = %d, more than MaxPDU", n)
			}
			if err != nil {
				if !errors.Is(err, dissect.ErrMalformed) {
					t.Fatalf("Frame error %v", err)
				}
				b = b[1:]
				continue
			}
			if n == 0 {
				break
			}
			if n < mbapLen+1 {
				t.Fatalf("Frame = %d, shorter than a header and function code", n)
			}
			adu := b[:min(n, len(b))]
			b = b[len(adu):]
			dir := dissect.DirRequest
			if dirs>>(i%8)&1 != 0 {
				dir = dissect.DirResponse
			}
			if c := d.Classify(adu); c != dissect.DirUnknown && c != dissect.DirRequest && c != dissect.DirResponse {
				t.Fatalf("Classify = %v", c)
			}
			check(h.decode(dir, adu))
		}

		// As one ADU and as a bare PDU, in both directions and undirected.
		for _, dir := range []dissect.Dir{dissect.DirRequest, dissect.DirResponse, dissect.DirUnknown} {
			check(h.decode(dir, data))
			check(h.decodePDU(dir, 1, 1<<8|uint32(firstByte(data)&0x7f), false, 0, data))
		}
	})
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
