package modbus

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/tapwire/tapwire/dissect"
)

// Public captures are read in place from the shared folder next to the
// checkout (see its INDEX.md for their origin and terms); nothing of them is
// copied into the repository. Tests that need them skip when it is absent.
var capturesDir = filepath.Join("..", "..", "..", "shared", "pcaps")

var modbusCaptures = []string{
	"iti/ModbusTCP/Modbus/modbus_test.pcap",
	"iti/ModbusTCP/Modbus/modbus_test_2.pcap",
	"iti/ModbusTCP/ModbusTCP.pcap",
	"iti/ModbusTCP/mb2.pcap",
	"iti/ModbusTCP/modbus_test_data_part1.pcap",
	"iti/ModbusTCP/modbus_test_data_part2.pcap",
	"iti/bro/modbus/fuzz-1011.pcap",
	"iti/bro/modbus/fuzz-72.pcap",
	"iti/bro/modbus/modbusBig.pcap",
	"iti/bro/modbus/modbusSmall.pcap",
	"iti/modicon/modicon_test.pcap",
	"lemay/characterization_modbus_6RTU_with_operate.pcap",
	"lemay/send_a_fake_command_modbus_6RTU_with_operate.pcap",
}

// readPcap calls fn with the frame of every record of a classic pcap file
// with Ethernet link type (enough for the shared captures; the project's
// real reader lives in drivers/).
func readPcap(path string, fn func(frame []byte)) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(b) < 24 {
		return errors.New("short pcap header")
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return errors.New("not a classic pcap file")
	}
	if lt := bo.Uint32(b[20:]); lt != 1 {
		return fmt.Errorf("link type %d, want 1 (Ethernet)", lt)
	}
	for b = b[24:]; len(b) >= 16; {
		n := int(bo.Uint32(b[8:]))
		if len(b) < 16+n {
			return errors.New("record cut short")
		}
		fn(b[16 : 16+n])
		b = b[16+n:]
	}
	return nil
}

// segment is a TCP segment of an IPv4 frame.
type segment struct {
	src, dst netip.AddrPort
	seq      uint32
	syn      bool
	payload  []byte
}

func parseTCP(frame []byte) (segment, bool) {
	var s segment
	if len(frame) < 14 {
		return s, false
	}
	etype, p := binary.BigEndian.Uint16(frame[12:]), frame[14:]
	for etype == 0x8100 && len(p) >= 4 {
		etype, p = binary.BigEndian.Uint16(p[2:]), p[4:]
	}
	if etype != 0x0800 || len(p) < 20 || p[0]>>4 != 4 || p[9] != 6 {
		return s, false
	}
	ihl, total := int(p[0]&0xf)*4, int(binary.BigEndian.Uint16(p[2:]))
	if ihl < 20 || total < ihl || len(p) < total {
		return s, false
	}
	src, dst := netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
	p = p[ihl:total]
	if len(p) < 20 || int(p[12]>>4)*4 < 20 || len(p) < int(p[12]>>4)*4 {
		return s, false
	}
	s.src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(p[0:]))
	s.dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(p[2:]))
	s.seq = binary.BigEndian.Uint32(p[4:])
	s.syn = p[13]&0x02 != 0
	s.payload = p[int(p[12]>>4)*4:]
	return s, true
}

// half is one direction of a TCP connection: a small in-order reassembler.
type half struct {
	next   uint32
	synced bool
	buf    []byte
}

// conn is a Modbus/TCP connection of a capture.
type conn struct {
	slot int
	id   uint64
	h    [2]half // 0 client to server, 1 server to client
}

// replay frames the Modbus/TCP streams (server port 502) of a capture and
// calls fn with each ADU, its direction and its flow.
func replay(path string, fn func(dir dissect.Dir, slot int, id uint64, adu []byte)) error {
	d := New()
	conns := map[[2]netip.AddrPort]*conn{}
	return readPcap(path, func(frame []byte) {
		s, ok := parseTCP(frame)
		if !ok {
			return
		}
		key, side, dir := [2]netip.AddrPort{s.src, s.dst}, 0, dissect.DirRequest
		switch {
		case s.dst.Port() == defaultPort:
		case s.src.Port() == defaultPort:
			key, side, dir = [2]netip.AddrPort{s.dst, s.src}, 1, dissect.DirResponse
		default:
			return
		}
		c := conns[key]
		if c == nil {
			c = &conn{slot: len(conns), id: uint64(len(conns) + 1)}
			conns[key] = c
		}
		h := &c.h[side]
		seq := s.seq
		if s.syn {
			seq++
		}
		switch {
		case !h.synced || s.syn:
			h.synced, h.buf = true, h.buf[:0]
		case seq == h.next:
		case int32(seq-h.next) < 0:
			return // a retransmission
		default:
			h.buf = h.buf[:0] // a gap: start over at this segment
		}
		h.next = seq + uint32(len(s.payload))
		h.buf = append(h.buf, s.payload...)
		for len(h.buf) > 0 {
			n, err := d.Frame(h.buf)
			if err != nil {
				h.buf = h.buf[1:] // resynchronise
				continue
			}
			if n == 0 || n > len(h.buf) {
				break
			}
			fn(dir, c.slot, c.id, h.buf[:n])
			h.buf = h.buf[n:]
		}
		h.buf = append(h.buf[:0:0], h.buf...)
	})
}

func capturePath(tb testing.TB, name string) string {
	p := filepath.Join(capturesDir, filepath.FromSlash(name))
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared capture %s not available: %v", name, err)
	}
	return p
}

// TestCaptures decodes the public Modbus captures and checks what holds for
// any input: every ADU yields an event with valid details JSON, and errors
// are malformed or truncated. It logs what it saw.
func TestCaptures(t *testing.T) {
	for _, name := range modbusCaptures {
		t.Run(filepath.Base(name), func(t *testing.T) {
			h := newHarness(t)
			names := map[string]int{}
			var events, bad int
			err := replay(capturePath(t, name), func(dir dissect.Dir, slot int, id uint64, adu []byte) {
				h.c.FlowSlot, h.c.FlowID = slot, id
				e, err := h.decode(dir, adu)
				if err != nil && !errors.Is(err, dissect.ErrMalformed) && !errors.Is(err, dissect.ErrTruncated) {
					t.Errorf("Decode: %v", err)
				}
				if err != nil {
					bad++
				}
				if e == nil {
					t.Errorf("no event for % x", adu)
					return
				}
				events++
				names[e.Name]++
				if js := e.Detail.AppendJSON(nil); !json.Valid(js) {
					t.Errorf("invalid JSON %s", js)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			var list []string
			for n, c := range names {
				list = append(list, fmt.Sprintf("%s=%d", n, c))
			}
			sort.Strings(list)
			s := h.d.Stats()
			t.Logf("%d events, %d errors; %+v; %v", events, bad, s, list)
		})
	}
}

// captureADUs returns up to max distinct ADUs of the shared captures, for
// fuzz seeds (none when the captures are absent).
func captureADUs(max int) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	for _, name := range modbusCaptures {
		path := filepath.Join(capturesDir, filepath.FromSlash(name))
		replay(path, func(_ dissect.Dir, _ int, _ uint64, adu []byte) {
			// One seed per function code and length is variety enough.
			k := string(adu[min(7, len(adu)-1)]) + string(adu[4:6])
			if len(out) < max && !seen[k] {
				seen[k] = true
				out = append(out, append([]byte(nil), adu...))
			}
		})
	}
	return out
}
