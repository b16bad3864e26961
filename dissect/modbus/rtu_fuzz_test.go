package modbus

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tapwire/tapwire/dissect"
)

// rtuFromTCP turns a Modbus/TCP ADU into an RTU ADU to unit: the PDU after
// the MBAP header, the unit in front, the CRC behind.
func rtuFromTCP(adu []byte, unit byte) []byte {
	b := append([]byte{unit}, adu[mbapLen:]...)
	return AppendCRC16(b)
}

// rtuPairs are request/response pairs of every function code the Modbus/TCP
// tests cover (exchanges), as RTU ADUs of unit 1, plus a user-defined
// function without a length rule and diagnostics "return query data".
func rtuPairs() [][2][]byte {
	var out [][2][]byte
	for i := 0; i+1 < len(exchanges); i += 2 {
		out = append(out, [2][]byte{rtuFromTCP(exchanges[i].adu, 1), rtuFromTCP(exchanges[i+1].adu, 1)})
	}
	return append(out,
		[2][]byte{rtuADU("01 | 41 | DEADBEEF"), rtuADU("01 | 41 | 00")},
		[2][]byte{rtuADU("01 | 08 | 0000 | 0102 03"), rtuADU("01 | 08 | 0000 | 0102 03")},
		[2][]byte{rtuADU("01 | 03 | 0000 | 0001"), rtuADU("01 | 83 | 02")},
	)
}

// withUnit returns adu sent to (or by) unit, with its CRC redone.
func withUnit(adu []byte, unit byte) []byte {
	b := append([]byte{unit}, adu[1:len(adu)-2]...)
	return AppendCRC16(b)
}

// validStream builds a line's traffic from the bytes of r: a master
// polling slaves, every unicast request answered, broadcasts not.
func validStream(src []byte) (stream []byte, frames []string) {
	pairs := rtuPairs()
	next := func() byte {
		if len(src) == 0 {
			return 0
		}
		b := src[0]
		src = src[1:]
		return b
	}
	for n := 0; n < 64 && len(src) > 0; n++ {
		p := pairs[int(next())%len(pairs)]
		unit := next()%RTUMaxAddress + 1
		if next()%8 == 0 {
			// A broadcast (the request only).
			q := withUnit(p[0], 0)
			stream = append(stream, q...)
			frames = append(frames, "adu request "+hex.EncodeToString(q))
			continue
		}
		q, r := withUnit(p[0], unit), withUnit(p[1], unit)
		stream = append(stream, q...)
		stream = append(stream, r...)
		frames = append(frames, "adu request "+hex.EncodeToString(q), "adu response "+hex.EncodeToString(r))
	}
	return stream, frames
}

// chunked cuts b into chunks of 1..max bytes chosen by seed.
func chunked(b []byte, seed uint64, max int) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed>>32|1))
	var out [][]byte
	for len(b) > 0 {
		k := 1 + r.IntN(min(len(b), max))
		out = append(out, b[:k])
		b = b[k:]
	}
	return out
}

// FuzzRTUFramer: arbitrary bytes, chunked arbitrarily, at arbitrary
// times, never panic, and every byte is handed on exactly once, in order,
// in valid ADUs or skipped pieces; without silence, the chunking changes
// nothing. A valid stream built from the same bytes gives its frames
// exactly, however it is chunked.
func FuzzRTUFramer(f *testing.F) {
	for _, p := range rtuPairs() {
		f.Add(cat(p[0], p[1]), uint64(1), uint8(0))
	}
	f.Add(cat(rdReq, rdResp, wrReg, wrReg, unhex("FFFF"), bcast, coilReq, coilResp,
		badCRC(rdReq), devIDReq, devIDResp, rdReq[:4], userReq, userResp), uint64(7), uint8(1))
	f.Add(cat(rdReq[:3], rdReq, diagEcho, diagEcho, fifoReq, fifoResp), uint64(3), uint8(2))
	f.Add([]byte{0x01, 0x41, 0x00, 0x01}, uint64(0), uint8(3))

	f.Fuzz(func(t *testing.T, data []byte, seed uint64, mode uint8) {
		// Arbitrary bytes.
		cfg := RTUConfig{}
		if mode&1 != 0 {
			cfg.Baud = 9600
		}
		fr := NewRTUFramer(cfg)
		var c collector
		var out []byte
		r := rand.New(rand.NewPCG(seed, 1))
		ts := int64(1e18)
		emit := func(x *RTUFrame) {
			checkFrame(t, x)
			out = append(out, x.Data...)
			c.emit(x)
		}
		for i, p := range chunked(data, seed, 64) {
			if mode&1 != 0 {
				ts += r.Int64N(5e6) // up to 5 ms between reads
			}
			fr.Feed(ts, p, emit)
			if mode&2 != 0 && i%7 == 6 {
				fr.Idle(ts, emit)
			}
		}
		fr.Idle(ts, emit)
		if !bytes.Equal(out, data) {
			t.Fatalf("bytes handed on differ from the input:\n got % x\nwant % x", out, data)
		}
		st := fr.Stats()
		var aduBytes uint64
		for _, g := range c.out {
			if g.kind == RTUADU {
				aduBytes += uint64(len(g.data) / 2)
			}
		}
		if st.Bytes != uint64(len(data)) || st.SkippedBytes+aduBytes != st.Bytes {
			t.Fatalf("stats %+v do not add up to %d bytes (%d in ADUs)", st, len(data), aduBytes)
		}
		if mode == 0 {
			if g, w := strings.Join(c.strings(), "\n"), strings.Join(frameAll(data), "\n"); g != w {
				t.Fatalf("chunking changed the frames:\n%s\nwant\n%s", g, w)
			}
		}

		// A valid stream.
		stream, want := validStream(data)
		g := frameAll(chunked(stream, seed, 40)...)
		if strings.Join(g, "\n") != strings.Join(want, "\n") {
			t.Fatalf("valid stream % x:\ngot:\n%s\nwant:\n%s", stream, strings.Join(g, "\n"), strings.Join(want, "\n"))
		}
	})
}

func checkFrame(t *testing.T, x *RTUFrame) {
	t.Helper()
	switch x.Kind {
	case RTUADU:
		if len(x.Data) < RTUMinADU || len(x.Data) > RTUMaxADU || !crcOK(x.Data) || x.Data[0] > RTUMaxAddress {
			t.Fatalf("invalid ADU % x", x.Data)
		}
		if x.Dir != dissect.DirRequest && x.Dir != dissect.DirResponse {
			t.Fatalf("ADU % x without a direction", x.Data)
		}
		if x.Data[1]&exceptionBit != 0 && x.Dir != dissect.DirResponse {
			t.Fatalf("exception % x read as a request", x.Data)
		}
	case RTUCRCError, RTUTruncated, RTUNoise:
		if len(x.Data) == 0 || len(x.Data) > RTUMaxADU {
			t.Fatalf("%s piece of %d bytes", x.Kind, len(x.Data))
		}
	default:
		t.Fatalf("kind %d", x.Kind)
	}
}
