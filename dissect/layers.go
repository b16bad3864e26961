package dissect

import (
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/tapwire/tapwire/drivers"
)

// IP protocol numbers the engine follows.
const (
	ipProtoTCP = 6
	ipProtoUDP = 17
)

// TCP flags as kept in packet.flags.
const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagACK
)

// packet is the layer 2–4 view of one frame: what the flow table and the
// stream framer need, read from gopacket's preallocated layers. Payload
// aliases the frame.
type packet struct {
	srcMAC, dstMAC [6]byte
	hasMAC         bool
	vlan           uint16
	src, dst       netip.Addr
	proto          uint8
	sport, dport   uint16
	flags          uint8
	seq, ack       uint32
	payload        []byte
	// wireLen is the TCP payload's length on the wire (from the IP
	// header); more than len(payload) when the capture cut the frame.
	wireLen int
}

// l4Decoder decodes layers 2 to 4 with gopacket DecodingLayerParsers, one
// per first layer, all sharing the same preallocated layer values, so a
// decode allocates nothing.
type l4Decoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  LinuxSLL2
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	udp   layers.UDP

	fromEth, fromSLL, fromSLL2, fromIP4, fromIP6 *gopacket.DecodingLayerParser
	decoded                                      []gopacket.LayerType
}

func newL4Decoder() *l4Decoder {
	d := &l4Decoder{decoded: make([]gopacket.LayerType, 0, 8)}
	all := []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.ip4, &d.ip6, &d.tcp, &d.udp}
	mk := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first)
		// DecodingLayerSparse indexes decoders by layer type in a slice:
		// faster than the default map.
		dlc := gopacket.DecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
		for _, l := range all {
			dlc = dlc.Put(l)
		}
		p.SetDecodingLayerContainer(dlc)
		// Payloads we do not decode (ARP, LLDP, ICMP, the application
		// layer itself) end decoding without an error.
		p.IgnoreUnsupported = true
		// A panic in a layer decoder reaches Engine.Packet's last-resort
		// recover, which counts and reports it: no second defer per packet.
		p.IgnorePanic = true
		return p
	}
	d.fromEth = mk(layers.LayerTypeEthernet)
	d.fromSLL = mk(layers.LayerTypeLinuxSLL)
	d.fromSLL2 = mk(LayerTypeLinuxSLL2)
	d.fromIP4 = mk(layers.LayerTypeIPv4)
	d.fromIP6 = mk(layers.LayerTypeIPv6)
	return d
}

// decodeResult says how far a frame decoded.
type decodeResult uint8

const (
	decodedL4      decodeResult = iota // TCP or UDP over IP: pkt is filled
	decodedOther                       // a valid frame the engine does not follow (ARP, ICMP, fragments…)
	decodedError                       // malformed or truncated below layer 4
	decodedUnknown                     // unsupported link type
)

// decode fills pkt from f.
func (d *l4Decoder) decode(f *drivers.Frame, pkt *packet) decodeResult {
	var p *gopacket.DecodingLayerParser
	data := f.Data
	switch f.Link {
	case drivers.LinkEthernet:
		p = d.fromEth
	case drivers.LinkSLL:
		p = d.fromSLL
	case drivers.LinkSLL2:
		p = d.fromSLL2
	case drivers.LinkIPv4:
		p = d.fromIP4
	case drivers.LinkIPv6:
		p = d.fromIP6
	case drivers.LinkNull, drivers.LinkLoop:
		// 4-byte address family header, then IP: the version nibble
		// tells which (the family values differ between systems).
		if len(data) < 5 {
			return decodedError
		}
		data = data[4:]
		p = d.byVersion(data)
	case drivers.LinkRaw:
		p = d.byVersion(data)
	default:
		return decodedUnknown
	}
	if p == nil {
		return decodedError
	}
	if err := p.DecodeLayers(data, &d.decoded); err != nil {
		return decodedError
	}
	*pkt = packet{}
	var haveIP, haveL4 bool
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeEthernet:
			if len(d.eth.SrcMAC) == 6 && len(d.eth.DstMAC) == 6 {
				copy(pkt.srcMAC[:], d.eth.SrcMAC)
				copy(pkt.dstMAC[:], d.eth.DstMAC)
				pkt.hasMAC = true
			}
		case layers.LayerTypeDot1Q:
			if pkt.vlan == 0 {
				pkt.vlan = d.dot1q.VLANIdentifier
			}
		case layers.LayerTypeLinuxSLL:
			if d.sll.AddrLen == 6 && len(d.sll.Addr) >= 6 {
				copy(pkt.srcMAC[:], d.sll.Addr)
			}
		case LayerTypeLinuxSLL2:
			if d.sll2.AddrLen == 6 && len(d.sll2.Addr) >= 6 {
				copy(pkt.srcMAC[:], d.sll2.Addr)
			}
		case layers.LayerTypeIPv4:
			pkt.src = addr4(d.ip4.SrcIP)
			pkt.dst = addr4(d.ip4.DstIP)
			haveIP = true
		case layers.LayerTypeIPv6:
			pkt.src = addr16(d.ip6.SrcIP)
			pkt.dst = addr16(d.ip6.DstIP)
			haveIP = true
		case layers.LayerTypeTCP:
			pkt.proto = ipProtoTCP
			pkt.sport, pkt.dport = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			pkt.seq, pkt.ack = d.tcp.Seq, d.tcp.Ack
			if d.tcp.FIN {
				pkt.flags |= flagFIN
			}
			if d.tcp.SYN {
				pkt.flags |= flagSYN
			}
			if d.tcp.RST {
				pkt.flags |= flagRST
			}
			if d.tcp.ACK {
				pkt.flags |= flagACK
			}
			pkt.payload = d.tcp.Payload
			pkt.wireLen = len(pkt.payload)
			haveL4 = true
		case layers.LayerTypeUDP:
			pkt.proto = ipProtoUDP
			pkt.sport, pkt.dport = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			pkt.payload = d.udp.Payload
			haveL4 = true
		}
	}
	if pkt.proto == ipProtoTCP && f.OrigLen > len(f.Data) {
		// A frame cut by the snap length: the IP header says how much
		// TCP payload was on the wire.
		hdr := int(d.tcp.DataOffset) * 4
		for _, t := range d.decoded {
			switch t {
			case layers.LayerTypeIPv4:
				pkt.wireLen = int(d.ip4.Length) - int(d.ip4.IHL)*4 - hdr
			case layers.LayerTypeIPv6:
				pkt.wireLen = int(d.ip6.Length) - hdr
			}
		}
		if pkt.wireLen < len(pkt.payload) {
			pkt.wireLen = len(pkt.payload)
		}
	}
	if pkt.vlan == 0 && f.HasVLAN {
		pkt.vlan = f.VLAN & 0xfff
	}
	if !haveIP || !haveL4 || !pkt.src.IsValid() || !pkt.dst.IsValid() {
		return decodedOther
	}
	return decodedL4
}

func (d *l4Decoder) byVersion(data []byte) *gopacket.DecodingLayerParser {
	if len(data) == 0 {
		return nil
	}
	switch data[0] >> 4 {
	case 4:
		return d.fromIP4
	case 6:
		return d.fromIP6
	}
	return nil
}

func addr4(ip []byte) netip.Addr {
	if len(ip) == 4 {
		return netip.AddrFrom4([4]byte(ip))
	}
	if len(ip) == 16 {
		return netip.AddrFrom16([16]byte(ip)).Unmap()
	}
	return netip.Addr{}
}

func addr16(ip []byte) netip.Addr {
	if len(ip) == 16 {
		return netip.AddrFrom16([16]byte(ip)).Unmap()
	}
	return addr4(ip)
}
