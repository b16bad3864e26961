package pcapfile

import (
	"bufio"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/google/gopacket/pcapgo"

	"github.com/tapwire/tapwire/drivers"
)

// bufSize is the read buffer under pcapgo: large reads from the file, and
// room for the guard to see a whole record before pcapgo does.
const bufSize = 1 << 20

// File magics, as read little-endian from the first four bytes.
const (
	magicMicro    = 0xA1B2C3D4 // pcap, microseconds, little-endian
	magicMicroBE  = 0xD4C3B2A1 // pcap, microseconds, big-endian
	magicNano     = 0xA1B23C4D // pcap, nanoseconds, little-endian
	magicNanoBE   = 0x4D3CB2A1 // pcap, nanoseconds, big-endian
	magicPcapng   = blockSHB
	magicGzipByte = 0x1F // with 0x8B: gzip
)

// Reader reads one pcap or pcapng file. It implements drivers.Source; it
// is not safe for concurrent use.
type Reader struct {
	path string
	file *os.File // nil when the caller owns the input
	g    guard
	pcap *pcapgo.Reader
	ng   *pcapgo.NgReader

	packets, bytes, skipped uint64
	skippedLink             drivers.LinkType // the first link type skipped
	returned                uint64           // record number of the last record read
	err                     error            // sticky
}

// Open opens a pcap file (microsecond or nanosecond timestamps, either
// byte order) or a pcapng file, told apart by their magic. Errors name the
// file and wrap the os error (errors.Is(err, fs.ErrNotExist) works),
// drivers.ErrFormat for a file of another format,
// drivers.ErrUnsupportedLink for a link type the sensor cannot decode, or
// drivers.ErrDamaged for a file header cut short. An empty file reads as
// a capture without packets, as it does in tshark.
func Open(path string) (*Reader, error) {
	return open(path, nil)
}

// open opens path with br as its read buffer when br is not nil.
func open(path string, br *bufio.Reader) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, osError(path, err)
	}
	if br == nil {
		br = bufio.NewReaderSize(f, bufSize)
	} else {
		br.Reset(f)
	}
	r, err := newReader(path, br)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.file = f
	return r, nil
}

// NewReader reads a capture from r; name stands for the input in errors.
// Closing the Reader does not close r.
func NewReader(name string, r io.Reader) (*Reader, error) {
	return newReader(name, bufio.NewReaderSize(r, bufSize))
}

func newReader(name string, br *bufio.Reader) (*Reader, error) {
	r := &Reader{path: name}
	g := &r.g
	g.name, g.br, g.win = name, br, br.Size()
	magic, err := br.Peek(4)
	if len(magic) < 4 {
		switch {
		case err != nil && err != io.EOF:
			return nil, osError(name, err)
		case len(magic) == 0:
			r.err = io.EOF
			return r, nil
		}
		return nil, badFormat(name, "too short to be a capture file (%d bytes)", len(magic))
	}
	switch binary.LittleEndian.Uint32(magic) {
	case magicMicro:
	case magicMicroBE:
		g.big = true
	case magicNano:
		g.nanos = true
	case magicNanoBE:
		g.big, g.nanos = true, true
	case magicPcapng:
		return r.openPcapng()
	default:
		if magic[0] == magicGzipByte && magic[1] == 0x8B {
			return nil, badFormat(name, "gzip-compressed; decompress it first")
		}
		return nil, badFormat(name, "not a pcap or pcapng file (it starts with % x)", magic)
	}
	return r.openPcap()
}

func (r *Reader) openPcap() (*Reader, error) {
	g := &r.g
	h, err := g.br.Peek(pcapHeaderLen)
	if len(h) < pcapHeaderLen {
		if err != io.EOF {
			return nil, osError(r.path, err)
		}
		return nil, damaged(r.path, 0, "cut short in the file header (got %d of %d bytes)", len(h), pcapHeaderLen)
	}
	if major, minor := g.u16(h[4:]), g.u16(h[6:]); major != 2 {
		return nil, badFormat(r.path, "pcap version %d.%d is not supported", major, minor)
	}
	// The upper 16 bits carry the FCS length, not the link type.
	g.link = drivers.LinkType(g.u32(h[20:]))
	if !g.link.Supported() {
		return nil, unsupported(r.path, g.link)
	}
	// Hand pcapgo the header as version 2.4 (tshark reads any 2.x, pcapgo
	// only 2.4) with the largest snap length tshark accepts: records
	// longer than the header's snap length are common, and pcapgo would
	// reject them (it also fails every record of a file with snap length 0).
	g.scratch = append(g.scratch[:0], h...)
	if _, err := g.br.Discard(pcapHeaderLen); err != nil {
		return nil, osError(r.path, err)
	}
	g.put16(g.scratch[6:], 4)
	g.put32(g.scratch[16:], maxCapLen)
	g.u = unit{end: pcapHeaderLen, what: "file header", data: -1, src: g.scratch}
	if r.pcap, err = pcapgo.NewReader(g); err != nil {
		return nil, describe(r.path, 0, err)
	}
	return r, nil
}

func (r *Reader) openPcapng() (*Reader, error) {
	g := &r.g
	g.ng = true
	var err error
	// Mixed link types: pcapgo would otherwise drop the packets of every
	// interface whose link type differs from the first one's.
	if r.ng, err = pcapgo.NewNgReader(g, pcapgo.NgReaderOptions{WantMixedLinkType: true}); err != nil {
		return nil, describe(r.path, 1, err)
	}
	// pcapgo has read its first buffer (4 KiB) through the guard, which
	// holds the interface descriptions at the start of nearly every file.
	// If the guard got to a packet and no interface before it can be
	// decoded, the file fails here, not after skipping every packet.
	if g.sawPacket && len(g.firstLinks) > 0 {
		for _, l := range g.firstLinks {
			if l.Supported() {
				return r, nil
			}
		}
		return nil, unsupported(r.path, g.firstLinks...)
	}
	return r, nil
}

func unsupported(path string, links ...drivers.LinkType) error {
	var names []string
	for _, l := range links {
		name := l.String()
		found := false
		for _, n := range names {
			found = found || n == name
		}
		if !found {
			names = append(names, name)
		}
	}
	msg := "unsupported link type " + names[0]
	if len(names) > 1 {
		msg = "unsupported link types " + strings.Join(names, ", ")
	}
	return &fileError{path: path, msg: msg, err: drivers.ErrUnsupportedLink}
}

// Next fills f with the next frame. f.Data is pcapgo's buffer: valid until
// the next call. f.Input is the pcapng interface index (0 for pcap). It
// returns io.EOF at the end of the file, and an error wrapping
// drivers.ErrDamaged that names the record and what is wrong when the
// file is cut short or corrupt; the frames before the damage were
// delivered. Packets of a link type the sensor cannot decode (possible in
// a pcapng with several interfaces) are skipped and counted; if every
// packet was skipped, the end is an error wrapping
// drivers.ErrUnsupportedLink instead of io.EOF.
func (r *Reader) Next(f *drivers.Frame) error {
	if r.err != nil {
		return r.err
	}
	for {
		var (
			data []byte
			err  error
		)
		if r.ng != nil {
			data, _, err = r.ng.ZeroCopyReadPacketData()
		} else {
			data, _, err = r.pcap.ZeroCopyReadPacketData()
		}
		if err != nil {
			r.err = r.fail(err)
			return r.err
		}
		p, ok := r.g.q.pop()
		if !ok || p.caplen != len(data) {
			r.err = damaged(r.path, r.returned+1, "%v", errOutOfStep)
			return r.err
		}
		r.returned = p.record
		if !p.link.Supported() {
			if r.skipped == 0 {
				r.skippedLink = p.link
			}
			r.skipped++
			continue
		}
		r.packets++
		r.bytes += uint64(len(data))
		*f = drivers.Frame{Data: data, TS: p.ts, OrigLen: p.orig, Link: p.link, Input: p.iface}
		return nil
	}
}

func (r *Reader) fail(err error) error {
	if err == io.EOF {
		if r.packets == 0 && r.skipped > 0 {
			e := unsupported(r.path, r.skippedLink).(*fileError)
			e.msg = "no packets of a supported link type (skipped " + strconv.FormatUint(r.skipped, 10) + " of " + e.msg + ")"
			return e
		}
		return io.EOF
	}
	return describe(r.path, r.returned+1, err)
}

// Close closes the file (not an io.Reader given to NewReader). Next
// returns an error afterwards.
func (r *Reader) Close() error {
	r.err = &fileError{path: r.path, msg: "closed", err: fs.ErrClosed}
	if r.file == nil {
		return nil
	}
	err := r.file.Close()
	r.file = nil
	if err != nil {
		return osError(r.path, err)
	}
	return nil
}

// Path is the file's path (or the name given to NewReader).
func (r *Reader) Path() string { return r.path }

// Packets is the number of frames delivered.
func (r *Reader) Packets() uint64 { return r.packets }

// Bytes is the number of captured bytes delivered (the sum of len(Data)).
func (r *Reader) Bytes() uint64 { return r.bytes }

// Skipped is the number of packets skipped for their link type.
func (r *Reader) Skipped() uint64 { return r.skipped }

var _ drivers.Source = (*Reader)(nil)
