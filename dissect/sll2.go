package dissect

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// sll2HeaderLen is the length of a Linux cooked capture v2 header.
const sll2HeaderLen = 20

// Values of LinuxSLL2 fields that change what the payload is.
const (
	sll2ProtoLLC   = 0x0004 // ETH_P_802_2: the payload is an 802.2 LLC frame
	sll2HWNetlink  = 824    // ARPHRD_NETLINK: ProtocolType is a netlink family
	sll2MaxAddrLen = 8      // bytes the header has room for
)

// LayerTypeLinuxSLL2 is the layer type of LinuxSLL2. 12276 lies outside
// the numbers gopacket registers itself (below 2000, and 12345 in its
// documentation's example).
var LayerTypeLinuxSLL2 = gopacket.RegisterLayerType(12276, gopacket.LayerTypeMetadata{
	Name:    "LinuxSLL2",
	Decoder: gopacket.DecodeFunc(decodeLinuxSLL2),
})

// errSLL2Truncated is returned for input shorter than the header; it is
// made once so that decoding never allocates, not even on error.
var errSLL2Truncated = fmt.Errorf("dissect: linux sll2: header shorter than %d bytes: %w", sll2HeaderLen, ErrTruncated)

// LinuxSLL2 is the Linux cooked capture v2 header (LINKTYPE_LINUX_SLL2,
// 276): what libpcap writes for a capture on Linux's "any" device, in
// place of each interface's own link-layer header. All fields are big
// endian on the wire:
//
//	protocol type (2), reserved (2), interface index (4), ARPHRD type (2),
//	packet type (1), link-layer address length (1), link-layer address (8)
//
// It implements gopacket.DecodingLayer: DecodeFromBytes reuses the struct,
// Addr, Contents and Payload alias the input, and nothing allocates.
type LinuxSLL2 struct {
	layers.BaseLayer
	// ProtocolType is the payload's EtherType, or one of Linux's ETH_P_
	// values below 0x0600 (0x0004: 802.2 LLC), or for ARPHRD_NETLINK the
	// netlink family.
	ProtocolType layers.EthernetType
	// InterfaceIndex is the Linux ifindex of the interface the packet was
	// captured on.
	InterfaceIndex uint32
	// ARPHRDType is the interface's ARPHRD_ hardware type (1: Ethernet,
	// 772: loopback, 824: netlink).
	ARPHRDType uint16
	// PacketType says where the packet went: to this host, broadcast,
	// multicast, to another host, or sent by this host.
	PacketType layers.LinuxSLLPacketType
	// AddrLen is the length of the sender's link-layer address as the
	// kernel gave it; it may exceed the 8 bytes the header keeps.
	AddrLen uint8
	// Addr is the sender's link-layer address: its first min(AddrLen, 8)
	// bytes.
	Addr net.HardwareAddr
}

// LayerType returns LayerTypeLinuxSLL2.
func (s *LinuxSLL2) LayerType() gopacket.LayerType { return LayerTypeLinuxSLL2 }

// CanDecode returns LayerTypeLinuxSLL2.
func (s *LinuxSLL2) CanDecode() gopacket.LayerClass { return LayerTypeLinuxSLL2 }

// LinkFlow is the flow from the sender's link-layer address (the header
// carries no destination).
func (s *LinuxSLL2) LinkFlow() gopacket.Flow {
	return gopacket.NewFlow(layers.EndpointMAC, s.Addr, nil)
}

// NextLayerType is the layer type of the payload: from ProtocolType as
// an EtherType, except for 802.2 LLC frames and netlink messages (a
// payload that ends decoding).
func (s *LinuxSLL2) NextLayerType() gopacket.LayerType {
	switch {
	case s.ARPHRDType == sll2HWNetlink:
		return gopacket.LayerTypePayload
	case s.ProtocolType == sll2ProtoLLC:
		return layers.LayerTypeLLC
	}
	return s.ProtocolType.LayerType()
}

// DecodeFromBytes decodes the header at the start of data. Input shorter
// than the header is an error wrapping ErrTruncated.
func (s *LinuxSLL2) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < sll2HeaderLen {
		if df != nil {
			df.SetTruncated()
		}
		return errSLL2Truncated
	}
	s.ProtocolType = layers.EthernetType(binary.BigEndian.Uint16(data[0:2]))
	// data[2:4] is reserved.
	s.InterfaceIndex = binary.BigEndian.Uint32(data[4:8])
	s.ARPHRDType = binary.BigEndian.Uint16(data[8:10])
	s.PacketType = layers.LinuxSLLPacketType(data[10])
	s.AddrLen = data[11]
	s.Addr = net.HardwareAddr(data[12 : 12+min(int(s.AddrLen), sll2MaxAddrLen)])
	s.Contents = data[:sll2HeaderLen]
	s.Payload = data[sll2HeaderLen:]
	return nil
}

// decodeLinuxSLL2 is the gopacket.Decoder for gopacket.NewPacket.
func decodeLinuxSLL2(data []byte, p gopacket.PacketBuilder) error {
	s := &LinuxSLL2{}
	if err := s.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(s)
	p.SetLinkLayer(s)
	return p.NextDecoder(s.NextLayerType())
}
