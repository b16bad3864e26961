package serial

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/tapwire/tapwire/drivers"
)

// Capture writes an RTU capture: a pcapng file (little-endian, one
// section) with one interface per port — link type LINKTYPE_RTAC_SERIAL,
// if_name the port's name, if_description its line settings, if_speed its
// baud rate, nanosecond timestamps (if_tsresol 9) — and one enhanced
// packet block per record, on its port's interface, timestamped with the
// record's time, with the direction in epb_flags for the records that
// carry an ADU (outbound: sent by the master; inbound: sent by a slave).
// gopacket's pcapgo.NgWriter would do for the blocks, but it keeps link
// types in 8 bits and writes no epb_flags; this writer is small. It is not
// safe for concurrent use.
type Capture struct {
	w     *bufio.Writer
	ports int
	buf   []byte
	err   error // sticky
}

// pcapng block types and options (pcapng, draft-ietf-opsawg-pcapng).
const (
	ngSHB           = 0x0A0D0D0A
	ngIDB           = 1
	ngEPB           = 6
	ngByteOrder     = 0x1A2B3C4D
	optEnd          = 0
	shbUserAppl     = 4
	ifName          = 2
	ifDescription   = 3
	ifSpeed         = 8
	ifTSResol       = 9
	epbFlags        = 2
	epbInbound      = 1 // epb_flags direction bits
	epbOutbound     = 2
	rtacHeaderLen   = 12
	rtacTXEnd       = 0x03
	rtacRXEnd       = 0x04
	rtacTXStart     = 0x01
	rtacRXStart     = 0x02
	captureUserAppl = "Tapwire serial tap"
)

// NewCapture writes the section header and one interface per port to w.
// Flush (or write through w itself) when done.
func NewCapture(w io.Writer, ports []Config) (*Capture, error) {
	if len(ports) == 0 {
		return nil, errors.New("serial: a capture needs at least one port")
	}
	c := &Capture{w: bufio.NewWriterSize(w, 64<<10), ports: len(ports)}
	// Section header: byte-order magic, version 1.0, section length
	// unknown (-1).
	b := c.begin(ngSHB)
	b = binary.LittleEndian.AppendUint32(b, ngByteOrder)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, ^uint64(0))
	b = appendOption(b, shbUserAppl, []byte(captureUserAppl))
	b = appendOption(b, optEnd, nil)
	c.end(b)
	for _, p := range ports {
		p = p.WithDefaults()
		b := c.begin(ngIDB)
		b = binary.LittleEndian.AppendUint16(b, uint16(drivers.LinkRTACSerial))
		b = binary.LittleEndian.AppendUint16(b, 0) // reserved
		b = binary.LittleEndian.AppendUint32(b, 0) // snap length: none
		b = appendOption(b, ifName, []byte(p.Name))
		b = appendOption(b, ifDescription, fmt.Appendf(nil, "%d %d%c%d", p.Baud, p.DataBits, byte(p.Parity), p.StopBits))
		b = appendOption(b, ifSpeed, binary.LittleEndian.AppendUint64(nil, uint64(p.Baud)))
		b = appendOption(b, ifTSResol, []byte{9})
		b = appendOption(b, optEnd, nil)
		c.end(b)
	}
	return c, c.err
}

// WriteRecord writes one record (an RTAC serial header and its bytes) of
// port (the index in the ports given to NewCapture) at time ts (ns since
// the Unix epoch).
func (c *Capture) WriteRecord(port int, ts int64, rec []byte) error {
	if c.err != nil {
		return c.err
	}
	if port < 0 || port >= c.ports {
		return fmt.Errorf("serial: capture: port %d of %d", port, c.ports)
	}
	b := c.begin(ngEPB)
	b = binary.LittleEndian.AppendUint32(b, uint32(port))
	b = binary.LittleEndian.AppendUint32(b, uint32(uint64(ts)>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(rec)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(rec)))
	b = append(b, rec...)
	b = pad(b)
	if len(rec) > 8 {
		var flags uint32
		switch rec[8] {
		case rtacTXEnd, rtacTXStart:
			flags = epbOutbound
		case rtacRXEnd, rtacRXStart:
			flags = epbInbound
		}
		if flags != 0 {
			var v [4]byte
			binary.LittleEndian.PutUint32(v[:], flags)
			b = appendOption(b, epbFlags, v[:])
			b = appendOption(b, optEnd, nil)
		}
	}
	c.end(b)
	return c.err
}

// WriteFrame writes a frame of the tap: port is its Input minus
// Options.FirstInput.
func (c *Capture) WriteFrame(port int, f *drivers.Frame) error {
	if f.Link != drivers.LinkRTACSerial {
		return fmt.Errorf("serial: capture: frame of link type %s, want %s", f.Link, drivers.LinkRTACSerial)
	}
	return c.WriteRecord(port, f.TS, f.Data)
}

// Flush writes what is buffered.
func (c *Capture) Flush() error {
	if c.err != nil {
		return c.err
	}
	c.err = c.w.Flush()
	return c.err
}

// begin starts a block of type typ in c.buf, leaving room for its length.
func (c *Capture) begin(typ uint32) []byte {
	b := binary.LittleEndian.AppendUint32(c.buf[:0], typ)
	return append(b, 0, 0, 0, 0)
}

// end fills in the block's lengths and writes it.
func (c *Capture) end(b []byte) {
	n := uint32(len(b) + 4)
	binary.LittleEndian.PutUint32(b[4:], n)
	b = binary.LittleEndian.AppendUint32(b, n)
	c.buf = b[:0]
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

// appendOption appends a pcapng option (code, length, value padded to 32
// bits).
func appendOption(b []byte, code uint16, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return pad(b)
}

func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
