package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/tapwire/tapwire/drivers"
)

// Captures for the tests are built here: with pcapgo's writers where they
// can express the case, by hand (pcapFile, ngFile) where they cannot (big
// endian, nanosecond pcap, odd resolutions, damage).

// order writes and reads one byte order.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

var le, be order = binary.LittleEndian, binary.BigEndian

// ethFrame is an Ethernet II frame carrying IPv4/UDP, 60 bytes; seq varies
// its last byte so frames can be told apart.
func ethFrame(seq byte) []byte {
	f := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination MAC: broadcast
		0x00, 0x1b, 0x1b, 0x02, 0xe6, 0x1f, // source MAC
		0x08, 0x00, // EtherType: IPv4
		0x45, 0x00, 0x00, 0x2e, // IPv4, IHL 5, total length 46
		0x00, 0x01, 0x00, 0x00, // id 1, no fragment
		0x40, 0x11, 0x00, 0x00, // TTL 64, UDP, checksum (unchecked)
		0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
		0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
		0xba, 0xc0, 0xba, 0xc0, // UDP 47808 → 47808 (BACnet/IP)
		0x00, 0x1a, 0x00, 0x00, // UDP length 26, checksum 0
	}
	f = append(f, make([]byte, 60-len(f))...)
	f[59] = seq
	return f
}

// pcapFile builds a pcap file by hand.
type pcapFile struct {
	order order
	nanos bool
	b     []byte
}

func newPcap(order order, nanos bool, snap, link uint32) *pcapFile {
	p := &pcapFile{order: order, nanos: nanos}
	magic := uint32(0xA1B2C3D4)
	if nanos {
		magic = 0xA1B23C4D
	}
	p.b = order.AppendUint32(p.b, magic)
	p.b = order.AppendUint16(p.b, 2) // version 2.4
	p.b = order.AppendUint16(p.b, 4)
	p.b = order.AppendUint32(p.b, 0) // thiszone
	p.b = order.AppendUint32(p.b, 0) // sigfigs
	p.b = order.AppendUint32(p.b, snap)
	p.b = order.AppendUint32(p.b, link)
	return p
}

// rec appends a record header (caplen, orig as given) and data.
func (p *pcapFile) rec(sec, frac, caplen, orig uint32, data []byte) *pcapFile {
	p.b = p.order.AppendUint32(p.b, sec)
	p.b = p.order.AppendUint32(p.b, frac)
	p.b = p.order.AppendUint32(p.b, caplen)
	p.b = p.order.AppendUint32(p.b, orig)
	p.b = append(p.b, data...)
	return p
}

// pkt appends a whole record of data.
func (p *pcapFile) pkt(sec, frac uint32, data []byte) *pcapFile {
	return p.rec(sec, frac, uint32(len(data)), uint32(len(data)), data)
}

// ngFile builds a pcapng file by hand, block by block.
type ngFile struct {
	order order
	b     []byte
}

func newNg(order order) *ngFile {
	return (&ngFile{order: order}).shb(1, 0)
}

func pad4(b []byte) []byte { return append(b, make([]byte, (4-len(b)%4)%4)...) }

// block appends a block with a correct trailing length.
func (n *ngFile) block(typ uint32, body []byte) *ngFile {
	body = pad4(body)
	return n.rawBlock(typ, uint32(12+len(body)), body, uint32(12+len(body)))
}

func (n *ngFile) rawBlock(typ, length uint32, body []byte, trailer uint32) *ngFile {
	n.b = n.order.AppendUint32(n.b, typ)
	n.b = n.order.AppendUint32(n.b, length)
	n.b = append(n.b, body...)
	n.b = n.order.AppendUint32(n.b, trailer)
	return n
}

func (n *ngFile) opt(code uint16, val []byte) []byte {
	o := n.order.AppendUint16(nil, code)
	o = n.order.AppendUint16(o, uint16(len(val)))
	return pad4(append(o, val...))
}

func (n *ngFile) shb(major, minor uint16) *ngFile {
	var b []byte
	b = n.order.AppendUint32(b, 0x1A2B3C4D)
	b = n.order.AppendUint16(b, major)
	b = n.order.AppendUint16(b, minor)
	b = n.order.AppendUint64(b, ^uint64(0)) // section length: unknown
	return n.block(blockSHB, b)
}

// idb appends an interface description; opts are whole options (n.opt),
// the end-of-options option is added.
func (n *ngFile) idb(link uint16, snap uint32, opts ...[]byte) *ngFile {
	var b []byte
	b = n.order.AppendUint16(b, link)
	b = n.order.AppendUint16(b, 0)
	b = n.order.AppendUint32(b, snap)
	if len(opts) > 0 {
		for _, o := range opts {
			b = append(b, o...)
		}
		b = append(b, n.opt(optEnd, nil)...)
	}
	return n.block(blockIDB, b)
}

func (n *ngFile) epbHeader(iface uint32, ts uint64, caplen, orig uint32) []byte {
	var b []byte
	b = n.order.AppendUint32(b, iface)
	b = n.order.AppendUint32(b, uint32(ts>>32))
	b = n.order.AppendUint32(b, uint32(ts))
	b = n.order.AppendUint32(b, caplen)
	b = n.order.AppendUint32(b, orig)
	return b
}

func (n *ngFile) epb(iface uint32, ts uint64, data []byte) *ngFile {
	return n.block(blockEPB, append(n.epbHeader(iface, ts, uint32(len(data)), uint32(len(data))), data...))
}

func (n *ngFile) spb(orig uint32, data []byte) *ngFile {
	return n.block(blockSPB, append(n.order.AppendUint32(nil, orig), data...))
}

func (n *ngFile) isb(iface uint32) *ngFile {
	b := n.order.AppendUint32(nil, iface)
	b = n.order.AppendUint64(b, 0)
	return n.block(blockISB, b)
}

// writeFile writes b into the test's temporary directory.
func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pcapgoFile writes frames with pcapgo's writers: classic pcap with
// nanosecond timestamps, or pcapng (if_tsresol 9), one interface of link
// type link.
func pcapgoFile(t testing.TB, ng bool, link drivers.LinkType, frames []frame) []byte {
	t.Helper()
	ci := func(f frame) gopacket.CaptureInfo {
		return gopacket.CaptureInfo{Timestamp: time.Unix(0, f.TS), CaptureLength: len(f.Data), Length: f.OrigLen}
	}
	var buf bytes.Buffer
	if ng {
		w, err := pcapgo.NewNgWriter(&buf, layers.LinkType(link))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			if err := w.WritePacket(ci(f), f.Data); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		// pcapgo's LinkType has 8 bits: write the link type of the
		// interface (right after the section header) again.
		b := buf.Bytes()
		shbLen := le.Uint32(b[4:])
		le.PutUint16(b[shbLen+8:], uint16(link))
		return b
	}
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkType(link)); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WritePacket(ci(f), f.Data); err != nil {
			t.Fatal(err)
		}
	}
	b := buf.Bytes()
	le.PutUint32(b[20:], uint32(link)) // as above
	return b
}

// frame is a delivered frame with its data copied.
type frame struct {
	Data    []byte
	TS      int64
	OrigLen int
	Link    drivers.LinkType
	Input   int
}

// readAll reads src to its end and returns the frames and the final error
// (nil for io.EOF).
func readAll(src drivers.Source) ([]frame, error) {
	var out []frame
	var f drivers.Frame
	for {
		err := src.Next(&f)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, frame{Data: bytes.Clone(f.Data), TS: f.TS, OrigLen: f.OrigLen, Link: f.Link, Input: f.Input})
	}
}

// readFile opens and reads a whole file.
func readFile(t testing.TB, path string) ([]frame, error) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readAll(r)
}

// isKind reports whether err wraps want (nil: err is nil).
func isKind(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}
