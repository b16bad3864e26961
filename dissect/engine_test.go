package dissect

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/tapwire/tapwire/drivers"
)

// toyProto is a test protocol: 0xAB, kind (1 request / 2 response), id,
// length, then length bytes of body. Port 9999.
type toyProto struct{}

func (toyProto) Proto() Proto    { return ProtoModbus }
func (toyProto) Ports() []uint16 { return toyPorts }
func (toyProto) MaxPDU() int     { return 4 + 255 }
func (toyProto) Probe(b []byte) bool {
	return len(b) >= 4 && b[0] == 0xAB && (b[1] == 1 || b[1] == 2)
}
func (toyProto) Frame(b []byte) (int, error) {
	if len(b) < 4 {
		if len(b) > 0 && b[0] != 0xAB {
			return 0, ErrMalformed
		}
		return 0, nil
	}
	if b[0] != 0xAB || (b[1] != 1 && b[1] != 2) {
		return 0, ErrMalformed
	}
	return 4 + int(b[3]), nil
}
func (toyProto) Classify(pdu []byte) Dir {
	if pdu[1] == 1 {
		return DirRequest
	}
	return DirResponse
}
func (toyProto) PairKey(pdu []byte) (uint32, bool) { return uint32(pdu[2]), true }
func (toyProto) Decode(c *Context, pdu []byte) error {
	e := c.Event()
	e.HasFunc = true
	e.Func = uint32(pdu[2])
	e.Name = "toy"
	return nil
}

var toyPorts = []uint16{9999}

// ambiguousToy cannot tell requests from responses by structure.
type ambiguousToy struct{ toyProto }

func (ambiguousToy) Classify([]byte) Dir { return DirUnknown }
func (ambiguousToy) Ports() []uint16     { return nil }

func toyPDU(kind, id byte, body int) []byte {
	b := []byte{0xAB, kind, id, byte(body)}
	for i := 0; i < body; i++ {
		b = append(b, byte(i))
	}
	return b
}

// conn builds the frames of one TCP connection.
type conn struct {
	t            *testing.T
	cli, srv     net.IP
	cport, sport uint16
	cseq, sseq   uint32
	ts           int64
	frames       []drivers.Frame
}

func newConn(t *testing.T, sport uint16) *conn {
	return &conn{t: t, cli: net.IP{10, 0, 0, 1}, srv: net.IP{10, 0, 0, 2}, cport: 40000, sport: sport,
		cseq: 1000, sseq: 5000, ts: 1_700_000_000e9}
}

func (c *conn) frame(fromClient bool, flags string, seq, ack uint32, payload []byte) drivers.Frame {
	c.ts += 1e6
	src, dst, sp, dp := c.cli, c.srv, c.cport, c.sport
	if !fromClient {
		src, dst, sp, dp = c.srv, c.cli, c.sport, c.cport
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 1, 2, 3, 4, 5}, DstMAC: net.HardwareAddr{0, 1, 2, 3, 4, 6}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: seq, Ack: ack, Window: 8192,
		SYN: strings.Contains(flags, "S"), ACK: strings.Contains(flags, "A"), FIN: strings.Contains(flags, "F"),
		RST: strings.Contains(flags, "R"), PSH: len(payload) > 0}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		c.t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		c.t.Fatal(err)
	}
	data := append([]byte(nil), buf.Bytes()...)
	return drivers.Frame{Data: data, TS: c.ts, OrigLen: len(data), Link: drivers.LinkEthernet}
}

func (c *conn) handshake() {
	c.frames = append(c.frames, c.frame(true, "S", c.cseq-1, 0, nil))
	c.frames = append(c.frames, c.frame(false, "SA", c.sseq-1, c.cseq, nil))
	c.frames = append(c.frames, c.frame(true, "A", c.cseq, c.sseq, nil))
}

// send appends a data segment and advances the sender's sequence number.
func (c *conn) send(fromClient bool, payload []byte) drivers.Frame {
	var f drivers.Frame
	if fromClient {
		f = c.frame(true, "A", c.cseq, c.sseq, payload)
		c.cseq += uint32(len(payload))
	} else {
		f = c.frame(false, "A", c.sseq, c.cseq, payload)
		c.sseq += uint32(len(payload))
	}
	c.frames = append(c.frames, f)
	return f
}

type collected struct {
	lines []string
}

func (c *collected) Process(b *Batch) {
	for i := range b.Events {
		e := &b.Events[i]
		c.lines = append(c.lines, fmt.Sprintf("%s %s>%s %d", e.Dir, e.Src, e.Dst, e.Func))
	}
}

func runFrames(t *testing.T, cfg Config, d Dissector, frames []drivers.Frame) ([]string, Stats) {
	t.Helper()
	var got collected
	e := NewEngine(cfg, []Dissector{d}, &got)
	for i := range frames {
		e.Packet(&frames[i])
	}
	e.Close()
	return got.lines, e.Stats()
}

// exchange is n request/response pairs with ids 1..n.
func exchange(c *conn, n int, body int) {
	for i := 1; i <= n; i++ {
		c.send(true, toyPDU(1, byte(i), body))
		c.send(false, toyPDU(2, byte(i), body*2))
	}
}

func wantLines(n int, skip map[int]bool) []string {
	var w []string
	for i := 1; i <= n; i++ {
		if !skip[i] {
			w = append(w, fmt.Sprintf("request 10.0.0.1:40000>10.0.0.2:9999 %d", i))
		}
		if !skip[-i] {
			w = append(w, fmt.Sprintf("response 10.0.0.2:9999>10.0.0.1:40000 %d", i))
		}
	}
	return w
}

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFramingClean(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	exchange(c, 5, 10)
	got, st := runFrames(t, Config{}, toyProto{}, c.frames)
	equalLines(t, got, wantLines(5, nil))
	if st.TCPGaps != 0 || st.FramingErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestFramingSplitAndCoalesced(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	// Request 1 split byte by byte; requests 2–4 in one segment; request 5
	// split with its header cut in the middle.
	r1 := toyPDU(1, 1, 6)
	for i := range r1 {
		c.send(true, r1[i:i+1])
	}
	c.send(false, toyPDU(2, 1, 12))
	var three []byte
	for i := 2; i <= 4; i++ {
		three = append(three, toyPDU(1, byte(i), 3)...)
	}
	c.send(true, three)
	for i := 2; i <= 4; i++ {
		c.send(false, toyPDU(2, byte(i), 6))
	}
	r5 := toyPDU(1, 5, 20)
	c.send(true, r5[:2])
	c.send(true, r5[2:9])
	c.send(true, r5[9:])
	c.send(false, toyPDU(2, 5, 0))
	got, _ := runFrames(t, Config{}, toyProto{}, c.frames)
	want := []string{
		"request 10.0.0.1:40000>10.0.0.2:9999 1", "response 10.0.0.2:9999>10.0.0.1:40000 1",
		"request 10.0.0.1:40000>10.0.0.2:9999 2", "request 10.0.0.1:40000>10.0.0.2:9999 3", "request 10.0.0.1:40000>10.0.0.2:9999 4",
		"response 10.0.0.2:9999>10.0.0.1:40000 2", "response 10.0.0.2:9999>10.0.0.1:40000 3", "response 10.0.0.2:9999>10.0.0.1:40000 4",
		"request 10.0.0.1:40000>10.0.0.2:9999 5", "response 10.0.0.2:9999>10.0.0.1:40000 5",
	}
	equalLines(t, got, want)
}

func TestFramingRetransmissionAndOverlap(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	exchange(c, 2, 10)
	// Retransmit the last response, then an overlapping segment that
	// repeats half of request 3 and carries the rest.
	last := c.frames[len(c.frames)-1]
	c.frames = append(c.frames, last)
	r3 := toyPDU(1, 3, 10)
	c.send(true, r3[:7])
	c.cseq -= 7
	c.send(true, r3)
	c.send(false, toyPDU(2, 3, 20))
	got, st := runFrames(t, Config{}, toyProto{}, c.frames)
	equalLines(t, got, wantLines(3, nil))
	if st.TCPRetransmitted != 1 || st.TCPOverlaps != 1 {
		t.Errorf("retransmitted %d overlaps %d, want 1 and 1", st.TCPRetransmitted, st.TCPOverlaps)
	}
}

func TestFramingOutOfOrder(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	exchange(c, 1, 10)
	// Request 2 in two segments captured in swapped order.
	r2 := toyPDU(1, 2, 30)
	a := c.send(true, r2[:10])
	b := c.send(true, r2[10:])
	c.frames[len(c.frames)-2], c.frames[len(c.frames)-1] = b, a
	c.send(false, toyPDU(2, 2, 2))
	exchange3 := toyPDU(1, 3, 1)
	c.send(true, exchange3)
	c.send(false, toyPDU(2, 3, 1))
	got, st := runFrames(t, Config{}, toyProto{}, c.frames)
	equalLines(t, got, wantLines(3, nil))
	if st.TCPOutOfOrder != 1 || st.TCPGaps != 0 {
		t.Errorf("out of order %d gaps %d, want 1 and 0", st.TCPOutOfOrder, st.TCPGaps)
	}
}

func TestFramingLossAckedByPeer(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	exchange(c, 5, 10)
	// Drop the segment of request 3 (index 3 + 2*2 = 7): the server's
	// response acknowledges it, so the hole is known at once.
	frames := append(append([]drivers.Frame(nil), c.frames[:7]...), c.frames[8:]...)
	got, st := runFrames(t, Config{}, toyProto{}, frames)
	equalLines(t, got, wantLines(5, map[int]bool{3: true}))
	if st.TCPGaps != 1 || st.TCPLostBytes != 14 {
		t.Errorf("gaps %d lost bytes %d, want 1 and 14", st.TCPGaps, st.TCPLostBytes)
	}
}

func TestFramingLossInsideSplitPDU(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	exchange(c, 1, 10)
	r2 := toyPDU(1, 2, 40)
	c.send(true, r2[:20])
	c.send(true, r2[20:]) // lost
	c.send(false, toyPDU(2, 2, 1))
	exchange3 := toyPDU(1, 3, 1)
	c.send(true, exchange3)
	c.send(false, toyPDU(2, 3, 1))
	frames := append(append([]drivers.Frame(nil), c.frames[:6]...), c.frames[7:]...)
	got, st := runFrames(t, Config{}, toyProto{}, frames)
	equalLines(t, got, wantLines(3, map[int]bool{2: true}))
	if st.TCPGaps != 1 || st.PartialPDUsLost != 1 {
		t.Errorf("gaps %d partial lost %d, want 1 and 1", st.TCPGaps, st.PartialPDUsLost)
	}
}

func TestFramingHoleTimeout(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	// Client-only capture (no acks from the server): request 2 is lost;
	// requests 3.. wait until the hole times out.
	for i := 1; i <= 6; i++ {
		c.send(true, toyPDU(1, byte(i), 5))
		c.ts += 400e6
	}
	frames := append(append([]drivers.Frame(nil), c.frames[:4]...), c.frames[5:]...)
	got, st := runFrames(t, Config{HoleTimeout: 1e9}, toyProto{}, frames)
	var want []string
	for _, i := range []int{1, 3, 4, 5, 6} {
		want = append(want, fmt.Sprintf("request 10.0.0.1:40000>10.0.0.2:9999 %d", i))
	}
	equalLines(t, got, want)
	if st.TCPGaps != 1 {
		t.Errorf("gaps %d, want 1", st.TCPGaps)
	}
}

func TestFramingResyncAfterGarbage(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	exchange(c, 1, 4)
	c.send(true, []byte{0x00, 0x11, 0x22, 0x33, 0x44})
	exchange(c, 1, 4) // id 1 again
	got, st := runFrames(t, Config{}, toyProto{}, c.frames)
	equalLines(t, got, append(wantLines(1, nil), wantLines(1, nil)...))
	if st.FramingErrors == 0 || st.ResyncSkippedBytes != 5 {
		t.Errorf("framing errors %d skipped %d, want >0 and 5", st.FramingErrors, st.ResyncSkippedBytes)
	}
}

func TestMidStreamPickup(t *testing.T) {
	c := newConn(t, 9999)
	// No handshake; the capture starts inside a PDU.
	r0 := toyPDU(1, 9, 20)
	c.send(true, r0[5:])
	c.send(false, toyPDU(2, 9, 1))
	exchange(c, 2, 3)
	got, _ := runFrames(t, Config{}, toyProto{}, c.frames)
	want := append([]string{"response 10.0.0.2:9999>10.0.0.1:40000 9"}, wantLines(2, nil)...)
	equalLines(t, got, want)
}

func TestServerSideBySYN(t *testing.T) {
	c := newConn(t, 12345) // not a well-known port: found by Probe
	c.cport = 80           // lower than the server's port: ports cannot tell
	c.handshake()
	c.send(true, toyPDU(1, 1, 2))
	c.send(false, toyPDU(2, 1, 2))
	got, _ := runFrames(t, Config{}, ambiguousToy{}, c.frames)
	want := []string{"request 10.0.0.1:80>10.0.0.2:12345 1", "response 10.0.0.2:12345>10.0.0.1:80 1"}
	equalLines(t, got, want)
}

func TestServerSideByPairing(t *testing.T) {
	c := newConn(t, 12345)
	// No SYN, no well-known port, structure ambiguous: the response to a
	// held PDU (same pair key) decides.
	c.send(true, toyPDU(1, 7, 2))
	c.send(false, toyPDU(2, 7, 2))
	c.send(true, toyPDU(1, 8, 2))
	got, _ := runFrames(t, Config{}, ambiguousToy{}, c.frames)
	want := []string{"request 10.0.0.1:40000>10.0.0.2:12345 7", "response 10.0.0.2:12345>10.0.0.1:40000 7",
		"request 10.0.0.1:40000>10.0.0.2:12345 8"}
	equalLines(t, got, want)
}

func TestFlowTableBoundAndExpiry(t *testing.T) {
	cfg := Config{Flows: FlowConfig{MaxFlows: 16, TCPIdle: 10e9, UDPIdle: 5e9, ClosedIdle: 1e9}}
	var frames []drivers.Frame
	base := int64(1_700_000_000e9)
	for i := 0; i < 20; i++ {
		c := newConn(t, 9999)
		c.cport = uint16(41000 + i)
		c.ts = base + int64(i)*1e6
		c.send(true, toyPDU(1, 1, 1))
		frames = append(frames, c.frames...)
	}
	var got collected
	e := NewEngine(cfg, []Dissector{toyProto{}}, &got)
	for i := range frames {
		e.Packet(&frames[i])
	}
	st := e.Stats()
	if st.FlowsActive != 16 || st.FlowsEvicted != 4 || st.FlowsCreated != 20 {
		t.Fatalf("active %d evicted %d created %d, want 16, 4, 20", st.FlowsActive, st.FlowsEvicted, st.FlowsCreated)
	}
	// The least recently seen flows went first: the first four ports are gone.
	for i := 0; i < 4; i++ {
		k, _ := makeKey(&packet{src: addrOf(10, 0, 0, 1), dst: addrOf(10, 0, 0, 2), sport: uint16(41000 + i), dport: 9999, proto: ipProtoTCP})
		if e.flows.m[k] != nil {
			t.Errorf("flow of port %d still in the table", 41000+i)
		}
	}
	// Eleven seconds of packet time later, one packet expires all others.
	c := newConn(t, 9999)
	c.cport = 50000
	c.ts = base + 11e9
	c.send(true, toyPDU(1, 1, 1))
	e.Packet(&c.frames[0])
	st = e.Stats()
	if st.FlowsActive != 1 || st.FlowsExpired != 16 {
		t.Fatalf("after idle: active %d expired %d, want 1 and 16", st.FlowsActive, st.FlowsExpired)
	}
}

func addrOf(a, b, c, d byte) netip.Addr { return netip.AddrFrom4([4]byte{a, b, c, d}) }

func TestFramingResyncAcrossSegments(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	exchange(c, 1, 4)
	// Response 2 is lost (the client's next segment acknowledges it);
	// response 3 then comes split after its second byte, and its two
	// parts are captured in swapped order: the resync must find the header
	// across the two segments.
	c.send(true, toyPDU(1, 2, 4))
	c.send(false, toyPDU(2, 2, 4)) // lost
	c.send(true, toyPDU(1, 3, 4))
	r3 := toyPDU(2, 3, 4)
	a := c.send(false, r3[:2])
	b := c.send(false, r3[2:])
	n := len(c.frames)
	c.frames[n-2], c.frames[n-1] = b, a
	frames := append(append([]drivers.Frame(nil), c.frames[:6]...), c.frames[7:]...)
	got, st := runFrames(t, Config{}, toyProto{}, frames)
	equalLines(t, got, wantLines(3, map[int]bool{-2: true}))
	if st.TCPGaps != 1 || st.Resyncs != 1 {
		t.Errorf("gaps %d resyncs %d, want 1 and 1", st.TCPGaps, st.Resyncs)
	}
}

func TestFramingHeaderSplitThenRest(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	r1 := toyPDU(1, 1, 8)
	c.send(true, r1[:1])
	c.send(true, r1[1:]) // exactly the rest: the header completes in it
	c.send(false, toyPDU(2, 1, 8))
	got, _ := runFrames(t, Config{}, toyProto{}, c.frames)
	equalLines(t, got, wantLines(1, nil))
}

// A segment the capture cut (snap length): its missing bytes are a hole;
// the PDUs after it are found again.
func TestFramingTruncatedSegment(t *testing.T) {
	c := newConn(t, 9999)
	c.handshake()
	exchange(c, 1, 4)
	f := c.send(true, toyPDU(1, 2, 40))
	// Cut the frame 20 bytes into the payload, as a 74-byte snap length would.
	cut := f
	cut.Data = f.Data[:14+20+20+20]
	c.frames[len(c.frames)-1] = cut
	c.send(false, toyPDU(2, 2, 4))
	exchange(c, 1, 4) // id 1 again
	got, st := runFrames(t, Config{}, toyProto{}, c.frames)
	want := append(wantLines(1, nil), "response 10.0.0.2:9999>10.0.0.1:40000 2")
	equalLines(t, got, append(want, wantLines(1, nil)...))
	if st.TruncatedSegments != 1 || st.TCPGaps != 1 || st.Truncated != 1 {
		t.Errorf("truncated segments %d gaps %d truncated frames %d, want 1, 1, 1", st.TruncatedSegments, st.TCPGaps, st.Truncated)
	}
}

// Stats.Add sums every counter: a new field cannot be forgotten.
func TestStatsAddCoversEveryField(t *testing.T) {
	var a, b Stats
	fill := func(s *Stats) {
		v := reflect.ValueOf(s).Elem()
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.Uint64:
				f.SetUint(1)
			case reflect.Int:
				f.SetInt(1)
			case reflect.Array:
				for j := 0; j < f.Len(); j++ {
					f.Index(j).SetUint(1)
				}
			default:
				t.Fatalf("field %s of kind %s: teach this test", v.Type().Field(i).Name, f.Kind())
			}
		}
	}
	fill(&a)
	fill(&b)
	a.Add(b)
	v := reflect.ValueOf(a)
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		var got uint64
		switch f.Kind() {
		case reflect.Uint64:
			got = f.Uint()
		case reflect.Int:
			got = uint64(f.Int())
		case reflect.Array:
			got = f.Index(f.Len() - 1).Uint()
		}
		if got != 2 {
			t.Errorf("Stats.Add does not sum %s", v.Type().Field(i).Name)
		}
	}
}
