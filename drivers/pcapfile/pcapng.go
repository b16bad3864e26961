package pcapfile

import (
	"encoding/binary"
	"io"
	"math/bits"

	"github.com/tapwire/tapwire/drivers"
)

// The guard's pcapng side: blocks and interfaces.

// pcapng block types and option codes.
const (
	blockSHB = 0x0A0D0D0A // section header
	blockIDB = 1          // interface description
	blockPB  = 2          // packet (obsolete)
	blockSPB = 3          // simple packet
	blockNRB = 4          // name resolution
	blockISB = 5          // interface statistics
	blockEPB = 6          // enhanced packet
	// blockInert replaces the type of blocks pcapgo must not act on: a
	// type for local use, which readers skip.
	blockInert = 0x80000000

	ngByteOrderMagic   = 0x1A2B3C4D // the section's byte-order magic, read little-endian
	ngByteOrderMagicBE = 0x4D3C2B1A // the same, written big-endian

	optEnd      = 0  // opt_endofopt
	optTSResol  = 9  // if_tsresol
	optTSOffset = 14 // if_tsoffset
	// optInert replaces option codes pcapgo must not act on. No option
	// has this code, so readers skip it.
	optInert = 0xFFFF
)

// ngIface is what the guard keeps of a pcapng interface description.
type ngIface struct {
	link   drivers.LinkType
	snap   uint32 // 0: no limit
	div    uint64 // timestamp units per second; 0: resolution unusable
	mul    uint64 // 1e9/div when that is exact, else 0
	offset int64  // if_tsoffset, seconds
}

// ts converts a timestamp of this interface to ns since the epoch, exact
// to the nanosecond (truncating finer resolutions).
func (i *ngIface) ts(t uint64) int64 {
	if i.div == 0 {
		return 0
	}
	sec, frac := t/i.div, t%i.div
	var ns uint64
	if i.mul != 0 {
		ns = frac * i.mul
	} else {
		// frac < div, so hi < div and Div64 cannot overflow.
		hi, lo := bits.Mul64(frac, 1e9)
		ns, _ = bits.Div64(hi, lo, i.div)
	}
	return (int64(sec)+i.offset)*1e9 + int64(ns)
}

// nextBlock checks the next pcapng block.
func (g *guard) nextBlock() error {
	u := &g.u
	u.what = "block header"
	h, err := g.br.Peek(12)
	if len(h) == 0 && err == io.EOF {
		return io.EOF
	}
	if len(h) < 8 {
		u.end = u.start + 8
		return g.shortErr(err, int64(len(h)))
	}
	typ := g.u32(h)
	if typ == blockSHB {
		u.what = "section header block"
		if len(h) < 12 {
			u.end = u.start + 12
			return g.shortErr(err, int64(len(h)))
		}
		switch binary.LittleEndian.Uint32(h[8:]) {
		case ngByteOrderMagic:
			g.big = false
		case ngByteOrderMagicBE:
			g.big = true
		default:
			return g.damage("section header block has no valid byte-order magic (% x)", h[8:12])
		}
	}
	u.what = blockName(typ)
	length := g.u32(h[4:])
	u.length = length
	u.end = u.start + int64(length)
	if length%4 != 0 || length < minBlockLen(typ) {
		return g.damage("%s has an invalid length of %d bytes", u.what, length)
	}
	if length > maxBlock {
		return g.damage("%s length of %d bytes is too large", u.what, length)
	}
	switch typ {
	case blockSHB, blockIDB, blockISB:
		return g.metaBlock(typ)
	case blockEPB, blockPB, blockSPB:
		return g.packetBlock(typ)
	}
	b, err := g.peekUnit()
	if err != nil || b == nil {
		u.tail = u.stream
		return err
	}
	return g.checkTrailer(b[len(b)-4:])
}

func (g *guard) checkTrailer(t []byte) error {
	if v := g.u32(t); v != g.u.length {
		return g.damage("%s: trailing length %d does not match the block length %d", g.u.what, v, g.u.length)
	}
	return nil
}

func blockName(typ uint32) string {
	switch typ {
	case blockSHB:
		return "section header block"
	case blockIDB:
		return "interface description block"
	case blockPB:
		return "packet block"
	case blockSPB:
		return "simple packet block"
	case blockISB:
		return "interface statistics block"
	case blockEPB:
		return "enhanced packet block"
	case blockNRB:
		return "name resolution block"
	}
	return "block"
}

// minBlockLen is the length of a block of type typ without options or data.
func minBlockLen(typ uint32) uint32 {
	switch typ {
	case blockSHB:
		return 28
	case blockIDB:
		return 20
	case blockSPB:
		return 16
	case blockISB:
		return 24
	case blockNRB:
		return 16
	case blockEPB, blockPB:
		return 32
	}
	return 12
}

// metaBlock checks a section header, interface description or interface
// statistics block, the blocks pcapgo parses beyond their header, and
// normalises it for pcapgo.
func (g *guard) metaBlock(typ uint32) error {
	if g.u.length > maxMetaBlock {
		return g.damage("%s length of %d bytes is too large", g.u.what, g.u.length)
	}
	b, err := g.copyUnit()
	if err != nil {
		return err
	}
	if err := g.checkTrailer(b[len(b)-4:]); err != nil {
		return err
	}
	body := b[:len(b)-4]
	switch typ {
	case blockSHB:
		major, minor := g.u16(body[12:]), g.u16(body[14:])
		if major != 1 {
			if g.u.start == 0 {
				return badFormat(g.name, "pcapng version %d.%d is not supported", major, minor)
			}
			return g.damage("section header block: pcapng version %d.%d is not supported", major, minor)
		}
		// tshark reads any 1.x section; pcapgo only 1.0.
		g.put16(body[14:], 0)
		g.ifs = g.ifs[:0]
		return g.normaliseOptions(body[24:], nil)
	case blockIDB:
		return g.interfaceBlock(body)
	default: // blockISB
		// Statistics are not packets, and tshark reads those of an
		// interface the section never described, where pcapgo fails:
		// pcapgo skips them.
		g.put32(body, blockInert)
		return nil
	}
}

// interfaceBlock records an interface description and normalises it.
// pcapgo keeps link types in 8 bits (LINUX_SLL2, 276, becomes 20), divides
// by zero on some if_tsresol values and sizes its packet buffer from the
// snap length; so the guard keeps the link type and the resolution itself
// and hands pcapgo no if_tsresol and a bounded snap length.
func (g *guard) interfaceBlock(body []byte) error {
	i := ngIface{link: drivers.LinkType(g.u16(body[8:])), snap: g.u32(body[12:]), div: 1e6}
	err := g.normaliseOptions(body[16:], func(code uint16, o []byte) {
		switch code {
		case optTSResol:
			if len(o) > 4 {
				i.div = resolution(o[4])
			}
			g.put16(o, optInert)
		case optTSOffset:
			if len(o) >= 12 {
				if g.big {
					i.offset = int64(binary.BigEndian.Uint64(o[4:]))
				} else {
					i.offset = int64(binary.LittleEndian.Uint64(o[4:]))
				}
			}
		}
	})
	if err != nil {
		return err
	}
	if i.div != 0 && i.div <= 1e9 && 1e9%i.div == 0 {
		i.mul = 1e9 / i.div
	}
	if i.snap == 0 || i.snap > maxCapLen {
		g.put32(body[12:], maxCapLen)
	}
	g.ifs = append(g.ifs, i)
	if !g.sawPacket {
		g.firstLinks = append(g.firstLinks, i.link)
	}
	return nil
}

// resolution is the number of timestamp units per second for an if_tsresol
// value, or 0 when it does not fit in 64 bits (tshark shows such times as 0).
func resolution(v byte) uint64 {
	e := uint64(v & 0x7f)
	if v&0x80 != 0 {
		if e > 63 {
			return 0
		}
		return 1 << e
	}
	if e > 19 {
		return 0
	}
	d := uint64(1)
	for range e {
		d *= 10
	}
	return d
}

// normaliseOptions checks that the options in b (the option area of a
// block) lie within it, since pcapgo reads them without that check, and
// gives an end-of-options option length 0, which tshark reads and pcapgo
// rejects. f, when set, sees each option (header and value, unpadded) and
// may rewrite it.
func (g *guard) normaliseOptions(b []byte, f func(code uint16, o []byte)) error {
	for len(b) >= 4 {
		code, n := g.u16(b), int(g.u16(b[2:]))
		if code == optEnd {
			g.put16(b[2:], 0)
			return nil
		}
		size := 4 + (n+3)&^3
		if size > len(b) {
			return g.damage("%s: option %d of %d bytes overruns the block", g.u.what, code, n)
		}
		if f != nil {
			f(code, b[:4+n])
		}
		b = b[size:]
	}
	return nil
}

// packetBlock checks an enhanced, simple or obsolete packet block.
func (g *guard) packetBlock(typ uint32) error {
	g.sawPacket = true
	u := &g.u
	u.record = g.records + 1
	var (
		p     pending
		iface uint32
		tsHi  uint32
		tsLo  uint32
	)
	if typ == blockSPB {
		u.hdr = 12
	} else {
		u.hdr = 28
	}
	u.data = 0 // until the capture length is known
	h, err := g.br.Peek(int(u.hdr))
	if int64(len(h)) < u.hdr {
		return g.shortErr(err, int64(len(h)))
	}
	var caplen, orig uint32
	switch typ {
	case blockEPB:
		iface, tsHi, tsLo = g.u32(h[8:]), g.u32(h[12:]), g.u32(h[16:])
		caplen, orig = g.u32(h[20:]), g.u32(h[24:])
	case blockPB:
		iface, tsHi, tsLo = uint32(g.u16(h[8:])), g.u32(h[12:]), g.u32(h[16:])
		caplen, orig = g.u32(h[20:]), g.u32(h[24:])
	case blockSPB:
		orig = g.u32(h[8:])
		caplen = orig
	}
	if iface >= uint32(len(g.ifs)) {
		return g.damage("%s names interface %d of %d", u.what, iface, len(g.ifs))
	}
	ifc := &g.ifs[iface]
	if typ == blockSPB {
		if ifc.snap != 0 && caplen > ifc.snap {
			caplen = ifc.snap
		}
	} else {
		p.ts = ifc.ts(uint64(tsHi)<<32 | uint64(tsLo))
	}
	if room := int64(u.length) - u.hdr - 4; int64(caplen) > room {
		return g.damage("%s of %d bytes is too small for %d bytes of packet data", u.what, u.length, caplen)
	}
	if caplen > maxCapLen {
		return g.damage("capture length %d exceeds the maximum of %d", caplen, maxCapLen)
	}
	u.data = int64(caplen)
	b, err := g.peekUnit()
	if err != nil {
		return err
	}
	if b != nil {
		if err := g.checkTrailer(b[len(b)-4:]); err != nil {
			return err
		}
	}
	u.tail = u.stream
	p.record, p.caplen, p.orig, p.link, p.iface = u.record, int(caplen), clampLen(orig, caplen), ifc.link, int(iface)
	g.records = u.record
	g.q.push(p)
	return nil
}
