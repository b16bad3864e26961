package main

import "encoding/binary"

// Frame layout: Ethernet II, IPv4 without options, TCP. Frames shorter than
// the Ethernet minimum (60 bytes without FCS) are zero-padded, as a capture
// port delivers them.

const (
	ethLen      = 14
	ipv4Len     = 20
	tcpLen      = 20
	minFrameLen = 60
	etherIPv4   = 0x0800
	protoTCP    = 6
	ipDF        = 0x4000
)

// tcpSeg is what appendFrame needs to know about one segment.
type tcpSeg struct {
	src, dst     *host
	ipID         uint16
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	opts         []byte // TCP options, a multiple of 4 bytes
	payload      []byte
}

// appendFrame appends a complete Ethernet frame with valid IPv4 and TCP
// checksums.
func appendFrame(b []byte, s *tcpSeg) []byte {
	start := len(b)
	// Ethernet II
	b = append(b, s.dst.mac[:]...)
	b = append(b, s.src.mac[:]...)
	b = appendU16(b, etherIPv4)

	// IPv4
	ip := len(b)
	tcpHdr := tcpLen + len(s.opts)
	total := ipv4Len + tcpHdr + len(s.payload)
	var frag uint16
	if s.src.df {
		frag = ipDF
	}
	b = append(b,
		0x45, 0x00, // version 4, IHL 5; DSCP/ECN 0
		byte(total>>8), byte(total),
		byte(s.ipID>>8), byte(s.ipID),
		byte(frag>>8), byte(frag),
		s.src.ttl, protoTCP,
		0x00, 0x00, // header checksum, below
	)
	b = append(b, s.src.ip[:]...)
	b = append(b, s.dst.ip[:]...)
	binary.BigEndian.PutUint16(b[ip+10:], ^fold(sum16(0, b[ip:ip+ipv4Len])))

	// TCP
	tcp := len(b)
	b = appendU16(b, s.sport)
	b = appendU16(b, s.dport)
	b = binary.BigEndian.AppendUint32(b, s.seq)
	b = binary.BigEndian.AppendUint32(b, s.ack)
	b = append(b, byte(tcpHdr/4)<<4, s.flags)
	b = appendU16(b, s.src.window)
	b = append(b, 0x00, 0x00, 0x00, 0x00) // checksum (below), urgent pointer
	b = append(b, s.opts...)
	b = append(b, s.payload...)

	// Pseudo-header: source, destination, zero, protocol, TCP length.
	sum := sum16(0, b[ip+12:ip+20])
	sum += protoTCP + uint32(len(b)-tcp)
	sum = sum16(sum, b[tcp:])
	binary.BigEndian.PutUint16(b[tcp+16:], ^fold(sum))

	for len(b)-start < minFrameLen {
		b = append(b, 0)
	}
	return b
}

// sum16 adds data to a ones'-complement sum as big-endian 16-bit words,
// padding an odd last byte with zero.
func sum16(sum uint32, data []byte) uint32 {
	n := len(data) &^ 1
	for i := 0; i < n; i += 2 {
		sum += uint32(data[i])<<8 | uint32(data[i+1])
	}
	if len(data)&1 == 1 {
		sum += uint32(data[len(data)-1]) << 8
	}
	return sum
}

// fold folds the carries of a ones'-complement sum into 16 bits.
func fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}
