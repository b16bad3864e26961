package pcapfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"

	"github.com/tapwire/tapwire/drivers"
)

// Limits. maxCapLen is the largest packet tshark reads for the link types
// the sensor decodes (Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD); a record
// that claims more is damage, as it is for tshark.
const (
	maxCapLen    = 262144
	maxMetaBlock = 16 << 20 // largest section header, interface or statistics block
	maxBlock     = 1 << 30  // largest block of any kind
)

// pcap file header and record sizes.
const (
	pcapHeaderLen = 24
	pcapRecordLen = 16
)

// pending is a packet record the guard has checked and handed to pcapgo.
// Records are handed on in file order and pcapgo returns every one, so the
// Reader pairs them first in, first out.
type pending struct {
	ts     int64 // ns since the epoch
	record uint64
	caplen int
	orig   int
	link   drivers.LinkType
	iface  int
}

// unit is the stretch of the file (file header, record or block) the guard
// is handing on: bytes [start, end) of the stream.
type unit struct {
	start, end int64
	record     uint64 // packet record number; 0 for other units
	what       string // names the unit in messages
	hdr        int64  // bytes before the packet data
	data       int64  // packet data length; -1 for units without packet data
	length     uint32 // pcapng block length, for the trailer check
	src        []byte // normalised copy the unit is served from; nil: from br
	stream     bool   // longer than the buffer: checked as it passes
	tail       bool   // stream pcapng block whose trailing length is still unchecked
}

// guard is the io.Reader pcapgo reads from. It hands on only records and
// blocks it has checked (whole, or as they stream past when they are larger
// than the read buffer), so that pcapgo never sees input it would
// mishandle (panic, allocate without bound, or read out of step), and it
// turns the end of the file into io.EOF only at a record boundary;
// anywhere else it is damage, reported with the record number and what was
// cut short. Units pcapgo would reject although tshark reads them are
// handed on normalised. The guard also does what pcapgo gets wrong:
// timestamps and link types of packets come from the pending queue, not
// from pcapgo.
type guard struct {
	name string
	br   *bufio.Reader
	win  int // br's buffer size: the most Peek returns

	ng    bool // pcapng; else pcap
	big   bool // byte order of the file (pcap) or of the current section (pcapng)
	nanos bool // pcap: nanosecond timestamps
	link  drivers.LinkType
	ifs   []ngIface // interfaces of the current pcapng section

	sawPacket  bool               // a pcapng packet block was reached
	firstLinks []drivers.LinkType // link types of the interfaces before it

	pos     int64 // bytes handed on
	u       unit
	records uint64 // packet records checked
	scratch []byte
	q       queue
	err     error // sticky: io.EOF at a clean end, or what went wrong
}

func (g *guard) u16(b []byte) uint16 {
	if g.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (g *guard) u32(b []byte) uint32 {
	if g.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (g *guard) put16(b []byte, v uint16) {
	if g.big {
		binary.BigEndian.PutUint16(b, v)
	} else {
		binary.LittleEndian.PutUint16(b, v)
	}
}

func (g *guard) put32(b []byte, v uint32) {
	if g.big {
		binary.BigEndian.PutUint32(b, v)
	} else {
		binary.LittleEndian.PutUint32(b, v)
	}
}

// Read hands on the bytes of checked units.
func (g *guard) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && g.err == nil {
		if g.pos == g.u.end {
			g.err = g.next()
			continue
		}
		m, err := g.copy(p[n:])
		n += m
		g.err = err
	}
	if n > 0 {
		return n, nil
	}
	return 0, g.err
}

// copy hands on bytes of the current unit.
func (g *guard) copy(p []byte) (int, error) {
	if left := g.u.end - g.pos; int64(len(p)) > left {
		p = p[:left]
	}
	if g.u.src != nil {
		n := copy(p, g.u.src[g.pos-g.u.start:])
		g.pos += int64(n)
		return n, nil
	}
	if g.u.tail {
		// Hold back the trailing length until it is checked, so a block
		// that fails the check does not reach pcapgo whole.
		if body := g.u.end - 4 - g.pos; body > 0 {
			if int64(len(p)) > body {
				p = p[:body]
			}
		} else {
			t, err := g.br.Peek(4)
			if len(t) < 4 {
				return 0, g.shortErr(err, g.pos-g.u.start+int64(len(t)))
			}
			if err := g.checkTrailer(t); err != nil {
				return 0, err
			}
			g.u.tail = false
		}
	}
	n, err := g.br.Read(p)
	g.pos += int64(n)
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return 0, g.shortErr(err, g.pos-g.u.start)
	}
	return n, nil
}

// next checks the next unit and makes it current. It returns io.EOF at the
// end of the file.
func (g *guard) next() error {
	g.u = unit{start: g.pos, end: g.pos, data: -1}
	if g.ng {
		return g.nextBlock()
	}
	return g.nextRecord()
}

// recordNo is the record number for messages about the current unit.
func (g *guard) recordNo() uint64 {
	if g.u.record != 0 {
		return g.u.record
	}
	return g.records + 1
}

func (g *guard) damage(format string, args ...any) error {
	return damaged(g.name, g.recordNo(), format, args...)
}

// shortErr reports that the file ended (err io.EOF or io.ErrUnexpectedEOF)
// after got bytes of the current unit, or passes on a read error.
func (g *guard) shortErr(err error, got int64) error {
	if err != io.EOF && err != io.ErrUnexpectedEOF && err != nil {
		return osError(g.name, err)
	}
	u := &g.u
	total := u.end - u.start
	switch {
	case u.data >= 0 && got < u.hdr:
		return g.damage("cut short in %s header (got %d of %d bytes)", u.what, got, u.hdr)
	case u.data >= 0 && got < u.hdr+u.data:
		return g.damage("cut short in packet data (got %d of %d bytes)", got-u.hdr, u.data)
	case u.data >= 0:
		return g.damage("cut short after the packet data of the %s (got %d of %d bytes)", u.what, got, total)
	}
	return g.damage("cut short in %s (got %d of %d bytes)", u.what, got, total)
}

// peekUnit makes the whole current unit (u.end already set) available in
// br, or marks it for checking as it streams past when it is larger than
// the buffer. It reports a unit the file cuts short.
func (g *guard) peekUnit() ([]byte, error) {
	n := g.u.end - g.u.start
	if n > int64(g.win) {
		g.u.stream = true
		return nil, nil
	}
	b, err := g.br.Peek(int(n))
	if int64(len(b)) < n {
		return nil, g.shortErr(err, int64(len(b)))
	}
	return b, nil
}

// copyUnit reads the whole current unit into scratch, to be normalised and
// served from there.
func (g *guard) copyUnit() ([]byte, error) {
	n := g.u.end - g.u.start
	g.scratch = g.scratch[:0]
	for int64(len(g.scratch)) < n {
		// Grow by what the file really holds, not by what it claims.
		old := len(g.scratch)
		step := int(min(n-int64(old), 1<<20))
		if cap(g.scratch) < old+step {
			grown := make([]byte, old+step, max(old+step, 2*cap(g.scratch)))
			copy(grown, g.scratch)
			g.scratch = grown
		}
		g.scratch = g.scratch[:old+step]
		m, err := io.ReadFull(g.br, g.scratch[old:])
		if err != nil {
			return nil, g.shortErr(err, int64(old+m))
		}
	}
	g.u.src = g.scratch
	return g.scratch, nil
}

// nextRecord checks the next pcap record.
func (g *guard) nextRecord() error {
	h, err := g.br.Peek(pcapRecordLen)
	if len(h) == 0 && err == io.EOF {
		return io.EOF
	}
	u := &g.u
	u.record, u.what, u.hdr, u.data = g.records+1, "record", pcapRecordLen, 0
	if len(h) < pcapRecordLen {
		u.end = u.start + pcapRecordLen
		return g.shortErr(err, int64(len(h)))
	}
	caplen, orig := g.u32(h[8:]), g.u32(h[12:])
	if caplen > maxCapLen {
		return g.damage("capture length %d exceeds the maximum of %d", caplen, maxCapLen)
	}
	ts := int64(g.u32(h[0:]))*1e9 + int64(g.u32(h[4:]))*g.fracScale()
	u.data = int64(caplen)
	u.end = u.start + pcapRecordLen + int64(caplen)
	if caplen > orig || orig > math.MaxInt32 {
		// pcapgo rejects a capture length above the original length;
		// tshark reads the record, and so do we, with the original
		// length raised to the capture length.
		b, err := g.copyUnit()
		if err != nil {
			return err
		}
		g.put32(b[12:], caplen)
	} else if _, err := g.peekUnit(); err != nil {
		return err
	}
	g.records = u.record
	g.q.push(pending{ts: ts, record: u.record, caplen: int(caplen), orig: clampLen(orig, caplen), link: g.link})
	return nil
}

func (g *guard) fracScale() int64 {
	if g.nanos {
		return 1
	}
	return 1000
}

// clampLen is the original length for Frame.OrigLen: never below the
// capture length, and within an int32 so it is the same on every platform.
func clampLen(orig, caplen uint32) int {
	if orig < caplen {
		orig = caplen
	}
	return int(min(orig, math.MaxInt32))
}

// queue is a FIFO of pending records. pcapgo reads at most a buffer
// (4 KiB) ahead, so it holds a few hundred records at most and stops
// growing after the first ones.
type queue struct {
	buf  []pending // len is a power of two
	head int
	n    int
}

func (q *queue) push(p pending) {
	if q.n == len(q.buf) {
		grown := make([]pending, max(256, 2*len(q.buf)))
		for i := range q.n {
			grown[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = p
	q.n++
}

func (q *queue) pop() (pending, bool) {
	if q.n == 0 {
		return pending{}, false
	}
	p := q.buf[q.head]
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return p, true
}

// errOutOfStep means pcapgo returned a packet the guard did not hand on;
// it would be a bug here.
var errOutOfStep = errors.New("pcapfile: reader out of step with pcapgo")

// describe names a guard error for Reader: fileErrors pass as they are.
func describe(name string, record uint64, err error) error {
	var fe *fileError
	if errors.As(err, &fe) {
		return fe
	}
	return damaged(name, record, "%v", err)
}
