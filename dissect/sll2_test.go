package dissect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// sll2ModbusFrame: a Modbus/TCP Read Holding Registers request sent by the
// capturing host, captured on "any". Built for this test; tshark 4.0
// decodes it as "10.0.0.10 → 10.0.0.20 Modbus/TCP 72 Query: Trans: 1;
// Unit: 1, Func: 3: Read Holding Registers" with good IPv4 and TCP
// checksums.
//
//	0000  08 00 00 00 00 00 00 03 00 01 04 06 00 1b 1b 02
//	0010  e6 1f 00 00 45 00 00 34 12 34 40 00 40 06 14 73
//	0020  0a 00 00 0a 0a 00 00 14 c3 50 01 f6 00 00 00 01
//	0030  00 00 00 01 50 18 20 00 b5 46 00 00 00 01 00 00
//	0040  00 06 01 03 00 00 00 0a
var sll2ModbusFrame = []byte{
	// Linux cooked capture v2
	0x08, 0x00, // protocol type: IPv4
	0x00, 0x00, // reserved
	0x00, 0x00, 0x00, 0x03, // interface index: 3
	0x00, 0x01, // ARPHRD type: 1, Ethernet
	0x04,                               // packet type: 4, outgoing
	0x06,                               // address length: 6
	0x00, 0x1b, 0x1b, 0x02, 0xe6, 0x1f, // address: 00:1b:1b:02:e6:1f
	0x00, 0x00, // address padding
	// IPv4
	0x45, 0x00, 0x00, 0x34, // version 4, IHL 5, total length 52
	0x12, 0x34, 0x40, 0x00, // id 0x1234, don't fragment
	0x40, 0x06, 0x14, 0x73, // TTL 64, TCP, checksum
	0x0a, 0x00, 0x00, 0x0a, // source 10.0.0.10
	0x0a, 0x00, 0x00, 0x14, // destination 10.0.0.20
	// TCP
	0xc3, 0x50, 0x01, 0xf6, // port 50000 → 502
	0x00, 0x00, 0x00, 0x01, // seq 1
	0x00, 0x00, 0x00, 0x01, // ack 1
	0x50, 0x18, 0x20, 0x00, // data offset 5, PSH ACK, window 8192
	0xb5, 0x46, 0x00, 0x00, // checksum, urgent pointer
	// Modbus/TCP
	0x00, 0x01, 0x00, 0x00, 0x00, 0x06, // transaction 1, protocol 0, length 6
	0x01, 0x03, // unit 1, function 3: read holding registers
	0x00, 0x00, 0x00, 0x0a, // address 0, quantity 10
}

// sll2BACnetFrame: a BACnet Who-Is to the IPv6 all-nodes group, received
// on interface 2. Built for this test; tshark 4.0: "fe80::1 → ff02::1
// BACnet-APDU 80 Unconfirmed-REQ who-Is", UDP checksum good.
//
//	0000  86 dd 00 00 00 00 00 02 00 01 02 06 00 80 f4 09
//	0010  0a 0b 00 00 60 00 00 00 00 14 11 01 fe 80 00 00
//	0020  00 00 00 00 00 00 00 00 00 00 00 01 ff 02 00 00
//	0030  00 00 00 00 00 00 00 00 00 00 00 01 ba c0 ba c0
//	0040  00 14 f9 80 81 0b 00 0c 01 20 ff ff 00 ff 10 08
var sll2BACnetFrame = []byte{
	// Linux cooked capture v2
	0x86, 0xdd, // protocol type: IPv6
	0x00, 0x00, // reserved
	0x00, 0x00, 0x00, 0x02, // interface index: 2
	0x00, 0x01, // ARPHRD type: 1, Ethernet
	0x02,                               // packet type: 2, multicast
	0x06,                               // address length: 6
	0x00, 0x80, 0xf4, 0x09, 0x0a, 0x0b, // address: 00:80:f4:09:0a:0b
	0x00, 0x00, // address padding
	// IPv6
	0x60, 0x00, 0x00, 0x00, // version 6
	0x00, 0x14, 0x11, 0x01, // payload length 20, UDP, hop limit 1
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // source fe80::1
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // destination ff02::1
	// UDP
	0xba, 0xc0, 0xba, 0xc0, // port 47808 → 47808
	0x00, 0x14, 0xf9, 0x80, // length 20, checksum
	// BACnet/IP
	0x81, 0x0b, 0x00, 0x0c, // BVLC: original-broadcast-NPDU, length 12
	0x01, 0x20, 0xff, 0xff, 0x00, 0xff, // NPDU: global broadcast, hop count 255
	0x10, 0x08, // APDU: unconfirmed request, who-is
}

func TestLinuxSLL2Decode(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		want    LinuxSLL2 // without BaseLayer
		next    gopacket.LayerType
		payload int // payload length
		err     error
	}{
		{name: "IPv4", data: sll2ModbusFrame, want: LinuxSLL2{
			ProtocolType: layers.EthernetTypeIPv4, InterfaceIndex: 3, ARPHRDType: 1,
			PacketType: layers.LinuxSLLPacketTypeOutgoing, AddrLen: 6, Addr: net.HardwareAddr{0x00, 0x1b, 0x1b, 0x02, 0xe6, 0x1f},
		}, next: layers.LayerTypeIPv4, payload: 52},
		{name: "IPv6", data: sll2BACnetFrame, want: LinuxSLL2{
			ProtocolType: layers.EthernetTypeIPv6, InterfaceIndex: 2, ARPHRDType: 1,
			PacketType: layers.LinuxSLLPacketTypeMulticast, AddrLen: 6, Addr: net.HardwareAddr{0x00, 0x80, 0xf4, 0x09, 0x0a, 0x0b},
		}, next: layers.LayerTypeIPv6, payload: 60},
		{name: "header only, loopback, no address", data: []byte{
			0x08, 0x00, 0x00, 0x00, // IPv4, reserved
			0x00, 0x00, 0x00, 0x01, // interface 1
			0x03, 0x04, 0x00, 0x00, // ARPHRD 772 (loopback), to us, address length 0
			0, 0, 0, 0, 0, 0, 0, 0, // address
		}, want: LinuxSLL2{
			ProtocolType: layers.EthernetTypeIPv4, InterfaceIndex: 1, ARPHRDType: 772, Addr: net.HardwareAddr{},
		}, next: layers.LayerTypeIPv4},
		{name: "address longer than 8 bytes", data: []byte{
			0x08, 0x06, 0x00, 0x00, // ARP, reserved
			0xff, 0xff, 0xff, 0xff, // interface 4294967295
			0x00, 0x20, 0x03, 0x14, // ARPHRD 32 (InfiniBand), to another host, address length 20
			1, 2, 3, 4, 5, 6, 7, 8, // the first 8 bytes of the address
			0xaa, // payload
		}, want: LinuxSLL2{
			ProtocolType: layers.EthernetTypeARP, InterfaceIndex: 0xffffffff, ARPHRDType: 32,
			PacketType: layers.LinuxSLLPacketTypeOtherhost, AddrLen: 20, Addr: net.HardwareAddr{1, 2, 3, 4, 5, 6, 7, 8},
		}, next: layers.LayerTypeARP, payload: 1},
		{name: "802.2 LLC", data: []byte{
			0x00, 0x04, 0x00, 0x00, // ETH_P_802_2, reserved
			0x00, 0x00, 0x00, 0x05, // interface 5
			0x00, 0x01, 0x01, 0x06, // Ethernet, broadcast, address length 6
			1, 2, 3, 4, 5, 6, 0, 0, // address
			0x82, 0x82, 0x03, // LLC: BACnet SAPs, UI
		}, want: LinuxSLL2{
			ProtocolType: 4, InterfaceIndex: 5, ARPHRDType: 1,
			PacketType: layers.LinuxSLLPacketTypeBroadcast, AddrLen: 6, Addr: net.HardwareAddr{1, 2, 3, 4, 5, 6},
		}, next: layers.LayerTypeLLC, payload: 3},
		{name: "netlink", data: []byte{
			0x00, 0x00, 0x00, 0x00, // NETLINK_ROUTE, reserved
			0x00, 0x00, 0x00, 0x07, // interface 7
			0x03, 0x38, 0x04, 0x00, // ARPHRD 824 (netlink), outgoing, address length 0
			0, 0, 0, 0, 0, 0, 0, 0, // address
			0x10, 0x00, 0x00, 0x00, // netlink message
		}, want: LinuxSLL2{
			InterfaceIndex: 7, ARPHRDType: 824, PacketType: layers.LinuxSLLPacketTypeOutgoing, Addr: net.HardwareAddr{},
		}, next: gopacket.LayerTypePayload, payload: 4},
		{name: "short", data: sll2ModbusFrame[:19], err: ErrTruncated},
		{name: "empty", data: nil, err: ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s LinuxSLL2
			var df truncFeedback
			err := s.DecodeFromBytes(tt.data, &df)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !df.truncated {
					t.Fatalf("error %v (truncated flag %v), want %v", err, df.truncated, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := s
			got.BaseLayer = layers.BaseLayer{}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("decoded\n %+v\nwant\n %+v", got, tt.want)
			}
			if s.NextLayerType() != tt.next {
				t.Errorf("next layer %v, want %v", s.NextLayerType(), tt.next)
			}
			if !bytes.Equal(s.LayerContents(), tt.data[:20]) || len(s.LayerPayload()) != tt.payload || !bytes.Equal(s.LayerPayload(), tt.data[20:]) {
				t.Errorf("contents %x payload %x", s.LayerContents(), s.LayerPayload())
			}
			if len(s.Addr) > 0 && &s.Addr[0] != &tt.data[12] {
				t.Error("Addr does not alias the input")
			}
		})
	}
}

type truncFeedback struct{ truncated bool }

func (f *truncFeedback) SetTruncated() { f.truncated = true }

// TestLinuxSLL2Parser decodes the Modbus frame down to TCP with a
// DecodingLayerParser, as the pipeline does.
func TestLinuxSLL2Parser(t *testing.T) {
	var (
		sll2    LinuxSLL2
		ip4     layers.IPv4
		tcp     layers.TCP
		decoded []gopacket.LayerType
	)
	p := gopacket.NewDecodingLayerParser(LayerTypeLinuxSLL2, &sll2, &ip4, &tcp)
	// TCP names gopacket's ModbusTCP layer (port 502) next; the pipeline,
	// like this test, leaves the application layer to dissect.
	p.IgnoreUnsupported = true
	if err := p.DecodeLayers(sll2ModbusFrame, &decoded); err != nil {
		t.Fatal(err)
	}
	if want := []gopacket.LayerType{LayerTypeLinuxSLL2, layers.LayerTypeIPv4, layers.LayerTypeTCP}; fmt.Sprint(decoded) != fmt.Sprint(want) {
		t.Fatalf("decoded %v, want %v", decoded, want)
	}
	if ip4.SrcIP.String() != "10.0.0.10" || ip4.DstIP.String() != "10.0.0.20" || tcp.SrcPort != 50000 || tcp.DstPort != 502 || !tcp.PSH {
		t.Errorf("IPv4 %v → %v, TCP %d → %d", ip4.SrcIP, ip4.DstIP, tcp.SrcPort, tcp.DstPort)
	}
	if want := sll2ModbusFrame[60:]; !bytes.Equal(tcp.Payload, want) {
		t.Errorf("TCP payload %x, want %x", tcp.Payload, want)
	}
	if flow := sll2.LinkFlow(); flow.Src().String() != "00:1b:1b:02:e6:1f" {
		t.Errorf("link flow %v", flow)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := p.DecodeLayers(sll2ModbusFrame, &decoded); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per decode", allocs)
	}
}

func TestLinuxSLL2NoAllocs(t *testing.T) {
	var s LinuxSLL2
	for _, data := range [][]byte{sll2BACnetFrame, sll2BACnetFrame[:5]} {
		allocs := testing.AllocsPerRun(1000, func() { _ = s.DecodeFromBytes(data, gopacket.NilDecodeFeedback) })
		if allocs != 0 {
			t.Errorf("%d bytes: %v allocations per decode", len(data), allocs)
		}
	}
}

// TestLinuxSLL2NewPacket decodes through the registered decoder.
func TestLinuxSLL2NewPacket(t *testing.T) {
	pkt := gopacket.NewPacket(sll2BACnetFrame, LayerTypeLinuxSLL2, gopacket.Default)
	if err := pkt.ErrorLayer(); err != nil {
		t.Fatal(err.Error())
	}
	if _, ok := pkt.LinkLayer().(*LinuxSLL2); !ok {
		t.Errorf("link layer %T", pkt.LinkLayer())
	}
	if udp, ok := pkt.TransportLayer().(*layers.UDP); !ok || udp.DstPort != 47808 {
		t.Errorf("transport layer %v", pkt.TransportLayer())
	}
	if pkt := gopacket.NewPacket(sll2BACnetFrame[:10], LayerTypeLinuxSLL2, gopacket.Default); pkt.ErrorLayer() == nil {
		t.Error("no error layer for a short frame")
	}
}

// TestLinuxSLL2Tshark writes the fixtures into a pcap of link type 276 and
// compares the header fields with tshark's decoding of them.
func TestLinuxSLL2Tshark(t *testing.T) {
	frames := [][]byte{sll2ModbusFrame, sll2BACnetFrame}
	bin, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("TAPWIRE_CI") == "1" {
			t.Fatal("tshark (Wireshark) is not installed (required with TAPWIRE_CI=1)")
		}
		t.Skip("tshark (Wireshark) is not installed: cannot compare with its decoding")
	}
	// A little-endian microsecond pcap; pcapgo's writer cannot express
	// link types above 255.
	b := binary.LittleEndian.AppendUint32(nil, 0xA1B2C3D4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)              // thiszone, sigfigs
	b = binary.LittleEndian.AppendUint32(b, 65535) // snap length
	b = binary.LittleEndian.AppendUint32(b, 276)   // LINKTYPE_LINUX_SLL2
	for i, f := range frames {
		b = binary.LittleEndian.AppendUint32(b, uint32(1700000000+i))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	path := filepath.Join(t.TempDir(), "sll2.pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-n", "-r", path, "-T", "fields", "-E", "separator=,",
		"-e", "sll.etype", "-e", "sll.ifindex", "-e", "sll.hatype", "-e", "sll.pkttype",
		"-e", "sll.halen", "-e", "sll.src.eth").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(frames) {
		t.Fatalf("tshark printed %q", out)
	}
	for i, f := range frames {
		var s LinuxSLL2
		if err := s.DecodeFromBytes(f, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		ours := fmt.Sprintf("0x%04x,%d,%d,%d,%d,%v", uint16(s.ProtocolType), s.InterfaceIndex, s.ARPHRDType, s.PacketType, s.AddrLen, s.Addr)
		if lines[i] != ours {
			t.Errorf("frame %d: tshark %q, we %q", i+1, lines[i], ours)
		}
	}
}

func FuzzLinuxSLL2(f *testing.F) {
	f.Add(sll2ModbusFrame)
	f.Add(sll2BACnetFrame)
	f.Add(sll2ModbusFrame[:19])
	f.Add([]byte{0x00, 0x04, 0, 0, 0, 0, 0, 1, 0x03, 0x38, 4, 0xff, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s LinuxSLL2
		err := s.DecodeFromBytes(data, gopacket.NilDecodeFeedback)
		if len(data) < 20 {
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("%d bytes: %v", len(data), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Contents) != 20 || len(s.Contents)+len(s.Payload) != len(data) ||
			len(s.Addr) != min(int(s.AddrLen), 8) || s.NextLayerType() == LayerTypeLinuxSLL2 {
			t.Fatalf("decoded %+v from %x", s, data)
		}
		// The rest of the stack must take whatever follows.
		var (
			ip4     layers.IPv4
			ip6     layers.IPv6
			tcp     layers.TCP
			udp     layers.UDP
			decoded []gopacket.LayerType
		)
		p := gopacket.NewDecodingLayerParser(LayerTypeLinuxSLL2, &s, &ip4, &ip6, &tcp, &udp)
		p.IgnoreUnsupported = true
		_ = p.DecodeLayers(data, &decoded)
	})
}

func BenchmarkLinuxSLL2Decode(b *testing.B) {
	var s LinuxSLL2
	b.SetBytes(sll2HeaderLen)
	b.ReportAllocs()
	for range b.N {
		if err := s.DecodeFromBytes(sll2ModbusFrame, gopacket.NilDecodeFeedback); err != nil {
			b.Fatal(err)
		}
	}
}
