package drivers

import (
	"errors"
	"fmt"
)

// LinkType is the link-layer header type of a frame, with the values of the
// tcpdump.org LINKTYPE_ registry (which pcap and pcapng files carry).
type LinkType uint16

// Link types the sensor decodes.
const (
	LinkNull     LinkType = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet LinkType = 1   // Ethernet II / 802.3
	LinkRaw      LinkType = 101 // raw IPv4 or IPv6, version from the first nibble
	LinkLoop     LinkType = 108 // OpenBSD loopback: 4-byte network-order address family
	LinkSLL      LinkType = 113 // Linux cooked capture v1
	LinkIPv4     LinkType = 228 // raw IPv4
	LinkIPv6     LinkType = 229 // raw IPv6
	LinkSLL2     LinkType = 276 // Linux cooked capture v2
	// LinkRTACSerial (LINKTYPE_RTAC_SERIAL) carries serial-line data after a
	// 12-byte header; the serial tap writes one Modbus RTU ADU per frame
	// (see dissect/modbus, RTU captures).
	LinkRTACSerial LinkType = 250
)

// Supported reports whether the pipeline can decode frames of link type l.
func (l LinkType) Supported() bool {
	switch l {
	case LinkNull, LinkEthernet, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2, LinkRTACSerial:
		return true
	}
	return false
}

func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "NULL"
	case LinkEthernet:
		return "EN10MB"
	case LinkRaw:
		return "RAW"
	case LinkLoop:
		return "LOOP"
	case LinkSLL:
		return "LINUX_SLL"
	case LinkIPv4:
		return "IPV4"
	case LinkIPv6:
		return "IPV6"
	case LinkSLL2:
		return "LINUX_SLL2"
	case LinkRTACSerial:
		return "RTAC_SERIAL"
	}
	return fmt.Sprintf("LINKTYPE_%d", uint16(l))
}

// Frame is one captured frame.
type Frame struct {
	// Data is the captured bytes. It aliases the source's buffer and is
	// valid until the next call to Source.Next.
	Data []byte
	// TS is the packet time in nanoseconds since the Unix epoch (UTC).
	TS int64
	// OrigLen is the frame's length on the wire; OrigLen > len(Data) means
	// the capture cut the frame short (snap length).
	OrigLen int
	// Link is the link-layer type of Data.
	Link LinkType
	// Input numbers the source the frame came from (file, interface or
	// serial port), for sources that merge several.
	Input int
	// VLAN is the 802.1Q tag the capture took out of the frame (the
	// AF_PACKET ring reports it apart, in tp_vlan_tci), when HasVLAN.
	VLAN    uint16
	HasVLAN bool
}

// Source delivers frames in order.
type Source interface {
	// Next fills f with the next frame. It returns io.EOF after the last
	// frame, and otherwise an error that says what went wrong (wrapping
	// ErrDamaged where the input is corrupt).
	Next(f *Frame) error
	// Close releases the source. It is called from the goroutine that calls Next.
	Close() error
}

// Error vocabulary of the drivers. Callers test with errors.Is.
var (
	// ErrDamaged: the input is corrupt or cut short; frames before the
	// damage were delivered.
	ErrDamaged = errors.New("damaged input")
	// ErrUnsupportedLink: the input's link type cannot be decoded.
	ErrUnsupportedLink = errors.New("unsupported link type")
	// ErrFormat: the input is not a capture format the driver reads.
	ErrFormat = errors.New("unknown capture file format")
)
