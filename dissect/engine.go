package dissect

import (
	"log/slog"
	"runtime/debug"

	"github.com/tapwire/tapwire/drivers"
)

// Config configures the engine. The zero value of a field means its default.
type Config struct {
	Flows FlowConfig
	// HoleTimeout is how long, in packet time (ns), out-of-order segments
	// wait for the hole before them to fill before the hole is declared
	// lost. Default 1 s.
	HoleTimeout int64
	// SegmentPool bounds the out-of-order segment copies held at once over
	// all flows. Default 4096.
	SegmentPool int
}

// DefaultConfig is the engine's default configuration.
var DefaultConfig = Config{Flows: DefaultFlowConfig, HoleTimeout: 1e9, SegmentPool: 4096}

func (c Config) withDefaults() Config {
	d := DefaultConfig
	if c.Flows.MaxFlows > 0 {
		d.Flows.MaxFlows = c.Flows.MaxFlows
	}
	if c.Flows.TCPIdle > 0 {
		d.Flows.TCPIdle = c.Flows.TCPIdle
	}
	if c.Flows.UDPIdle > 0 {
		d.Flows.UDPIdle = c.Flows.UDPIdle
	}
	if c.Flows.ClosedIdle > 0 {
		d.Flows.ClosedIdle = c.Flows.ClosedIdle
	}
	if c.HoleTimeout > 0 {
		d.HoleTimeout = c.HoleTimeout
	}
	if c.SegmentPool > 0 {
		d.SegmentPool = c.SegmentPool
	}
	return d
}

// Stats are the engine's counters. They only grow.
type Stats struct {
	Packets, Bytes  uint64
	Truncated       uint64 // frames cut short by the capture's snap length
	NotIP           uint64 // frames without TCP or UDP over IP (ARP, LLDP, ICMP, fragments…)
	DecodeErrors    uint64 // frames malformed below layer 4
	UnsupportedLink uint64
	Panics          uint64 // recovered at the pipeline edge (a bug: reported)

	FlowsCreated, FlowsExpired, FlowsEvicted uint64
	FlowsActive                              int

	TCPRetransmitted   uint64 // segments wholly seen before
	TCPOverlaps        uint64 // segments partly seen before
	TCPOutOfOrder      uint64 // segments queued for a hole
	TCPGaps            uint64 // holes declared lost
	TCPLostBytes       uint64 // bytes in those holes
	TruncatedSegments  uint64 // TCP segments the capture cut: their missing bytes are a hole
	PartialPDUsLost    uint64 // PDUs cut by a hole
	Resyncs            uint64 // framing found again after skipping bytes
	ResyncSkippedBytes uint64 // bytes skipped looking for a header
	FramingErrors      uint64 // invalid headers where a PDU should start

	PDUs       [NumProtos]uint64 // PDUs handed to each dissector
	PDUErrors  [NumProtos]uint64 // of which the dissector found malformed or truncated
	UDPInvalid uint64            // datagrams of a recognised flow that do not frame
}

// Engine runs layers 2–4, the flow table, TCP framing and the dissectors
// over frames, writing events into a reused batch that goes to the sink
// whenever it fills (and on Flush). One engine serves one goroutine.
type Engine struct {
	cfg        Config
	dissectors []Dissector
	dec        *l4Decoder
	flows      *flowTable
	segs       segPool
	ctx        Context
	pkt        packet
	stats      Stats
	now        int64
	log        *slog.Logger

	input    int    // input of the current frame
	inputPkt uint64 // its number within that input
	scratch  []byte // bytes found by a resync across segments

	links []linkRoute
}

type linkRoute struct {
	link drivers.LinkType
	h    LinkHandler
}

// LinkHandler takes the frames of a link type that carries an application
// protocol directly, without IP (a serial line's Modbus RTU frames). It
// writes events through c (setting its fields as Decode expects them) and
// keeps its own counters.
type LinkHandler interface {
	Frame(c *Context, f *drivers.Frame, packet uint64)
}

// HandleLink routes the frames of link type l to h instead of the layer
// 2–4 decoder.
func (e *Engine) HandleLink(l drivers.LinkType, h LinkHandler) {
	e.links = append(e.links, linkRoute{l, h})
}

// NewEngine returns an engine that offers flows to dissectors in the given
// order and hands batches to sink.
func NewEngine(cfg Config, dissectors []Dissector, sink Sink) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{
		cfg:        cfg,
		dissectors: dissectors,
		dec:        newL4Decoder(),
		segs:       segPool{max: cfg.SegmentPool},
		log:        slog.Default(),
	}
	e.flows = newFlowTable(cfg.Flows, e.release)
	e.ctx = Context{batch: NewBatch(), sink: sink}
	return e
}

// SetLogger sets where the engine reports what it recovers from.
func (e *Engine) SetLogger(l *slog.Logger) { e.log = l }

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.FlowsCreated, s.FlowsExpired, s.FlowsEvicted = e.flows.created, e.flows.expired, e.flows.evicted
	s.FlowsActive = e.flows.Len()
	return s
}

// Packet processes one frame.
func (e *Engine) Packet(f *drivers.Frame) {
	defer e.recoverPanic(f)
	e.stats.Packets++
	e.stats.Bytes += uint64(f.OrigLen)
	if f.Input != e.input {
		e.input, e.inputPkt = f.Input, 0
	}
	e.inputPkt++
	if f.OrigLen > len(f.Data) {
		e.stats.Truncated++
	}
	if f.TS > e.now {
		e.now = f.TS
	}
	for _, r := range e.links {
		if r.link == f.Link {
			r.h.Frame(&e.ctx, f, e.inputPkt)
			return
		}
	}
	switch e.dec.decode(f, &e.pkt) {
	case decodedL4:
	case decodedOther:
		e.stats.NotIP++
		return
	case decodedError:
		e.stats.DecodeErrors++
		return
	case decodedUnknown:
		e.stats.UnsupportedLink++
		return
	}
	e.flows.expire(e.now)
	pkt := &e.pkt
	k, side := makeKey(pkt)
	fl, created := e.flows.lookup(k, f.TS)
	if !created && fl.state == flowClosed && pkt.flags&(flagSYN|flagACK) == flagSYN {
		// A new connection on the 5-tuple of a closed one.
		e.flows.drop(fl)
		fl, created = e.flows.lookup(k, f.TS)
	}
	if created {
		fl.ep[side] = Endpoint{Kind: EndpointIP, Addr: pkt.src, Port: pkt.sport}
		fl.ep[1-side] = Endpoint{Kind: EndpointIP, Addr: pkt.dst, Port: pkt.dport}
	}
	if pkt.hasMAC {
		if !fl.ep[side].HasMAC {
			fl.ep[side].MAC, fl.ep[side].HasMAC = pkt.srcMAC, true
		}
		if !fl.ep[1-side].HasMAC {
			fl.ep[1-side].MAC, fl.ep[1-side].HasMAC = pkt.dstMAC, true
		}
	}
	if pkt.proto == ipProtoTCP {
		e.tcpPacket(fl, side, pkt, f.TS)
	} else {
		e.udpPacket(fl, side, pkt, f.TS)
	}
}

func (e *Engine) recoverPanic(f *drivers.Frame) {
	if r := recover(); r != nil {
		e.stats.Panics++
		e.log.Error("dissect: recovered from a panic on the packet path; the frame was dropped",
			"panic", r, "ts", f.TS, "len", len(f.Data), "stack", string(debug.Stack()))
	}
}

func (e *Engine) tcpPacket(fl *Flow, side int, pkt *packet, ts int64) {
	if pkt.flags&flagRST != 0 {
		e.flushPending(fl)
		e.flows.close(fl)
		return
	}
	st := &fl.tcp[side]
	if pkt.flags&flagSYN != 0 {
		if fl.server < 0 && fl.proto == protoUndecided {
			// The SYN's sender is the client; the SYN-ACK's, the server.
			if pkt.flags&flagACK != 0 {
				fl.server = int8(side)
			} else {
				fl.server = int8(1 - side)
			}
		}
		if st.state == streamNew || st.next != pkt.seq+1 {
			e.resetStream(st)
			st.state, st.next = streamSync, pkt.seq+1
		}
		if pkt.flags&flagACK != 0 {
			e.ackSeen(fl, 1-side, pkt.ack)
		}
		return
	}
	if pkt.flags&flagACK != 0 {
		e.ackSeen(fl, 1-side, pkt.ack)
	}
	if len(pkt.payload) > 0 && fl.proto != protoNone {
		e.segment(fl, side, pkt.seq, pkt.payload, ts, e.inputPkt)
	}
	if pkt.wireLen > len(pkt.payload) && fl.proto != protoNone && st.state != streamNew {
		// The capture cut this segment: the rest of its bytes are a
		// hole in the stream, as if lost.
		e.stats.TruncatedSegments++
		e.skipHole(fl, side, pkt.seq+uint32(pkt.wireLen))
		e.drain(fl, side)
	}
	if pkt.flags&flagFIN != 0 {
		if st.state != streamNew && st.nooo == 0 && pkt.seq+uint32(len(pkt.payload)) == st.next {
			st.next++ // the FIN takes one sequence number
		}
		fl.fin[side] = true
		if fl.fin[1-side] {
			e.flushPending(fl)
			e.flows.close(fl)
		}
	}
}

func (e *Engine) resetStream(st *stream) {
	for i := 0; i < st.nooo; i++ {
		e.segs.put(st.ooo[i].data)
		st.ooo[i] = oooSeg{}
	}
	st.nooo = 0
	st.buf = st.buf[:0]
}

func (e *Engine) udpPacket(fl *Flow, side int, pkt *packet, ts int64) {
	p := pkt.payload
	if len(p) == 0 || fl.proto == protoNone {
		return
	}
	if fl.proto == protoUndecided && !e.choose(fl, side, p) {
		return
	}
	d := e.dissectors[fl.proto]
	for len(p) > 0 {
		n, err := d.Frame(p)
		if err != nil || n == 0 || n > len(p) {
			e.stats.UDPInvalid++
			return
		}
		e.pdu(fl, side, p[:n], ts, e.inputPkt)
		p = p[n:]
	}
}

const maxProbes = 8

// choose picks the flow's dissector from the first payloads: a dissector
// whose well-known port is one of the flow's ports (that side is then the
// server, whatever the SYN said), else the first whose Probe accepts the
// payload (the server side then comes from the SYN, or from request and
// response matching, see pdu). After maxProbes payloads without a match the flow is left
// alone.
func (e *Engine) choose(fl *Flow, side int, p []byte) bool {
	for i, d := range e.dissectors {
		for _, port := range d.Ports() {
			srv := -1
			switch port {
			case fl.ep[1-side].Port:
				srv = 1 - side
			case fl.ep[side].Port:
				srv = side
			}
			if srv >= 0 {
				// The well-known port decides the server side, even
				// against the SYN's direction.
				fl.proto = int16(i)
				fl.server = int8(srv)
				return true
			}
		}
	}
	for i, d := range e.dissectors {
		if d.Probe(p) {
			fl.proto = int16(i)
			// Framing starts at this payload, which Probe found aligned.
			fl.tcp[side].state = streamSync
			return true
		}
	}
	fl.probes++
	if fl.probes >= maxProbes {
		fl.proto = protoNone
	}
	return false
}

const maxPending = 4

type pendingPDU struct {
	side     int8
	ts       int64
	input    int
	packet   uint64
	off, len int
}

// pdu hands one framed PDU to the flow's dissector. While the flow's server
// side is unknown (no well-known port, no SYN seen), it is decided by request
// and response matching: the first PDU whose structure is only valid as a
// request or as a response (Dissector.Classify) decides; or a PDU whose pair
// key (transaction id) matches a held PDU of the other side is the response
// to it. Up to maxPending PDUs are held (copied) until then; if none
// decides, the sender of the first is taken as the client.
func (e *Engine) pdu(fl *Flow, side int, pdu []byte, ts int64, pkt uint64) {
	if fl.server < 0 {
		d := e.dissectors[fl.proto]
		switch d.Classify(pdu) {
		case DirRequest:
			fl.server = int8(1 - side)
		case DirResponse:
			fl.server = int8(side)
		default:
			if key, ok := d.PairKey(pdu); ok {
				for i := 0; i < fl.npend; i++ {
					pp := &fl.pend[i]
					if int(pp.side) == side {
						continue
					}
					if k2, ok2 := d.PairKey(fl.pendBuf[pp.off : pp.off+pp.len]); ok2 && k2 == key {
						fl.server = int8(side)
						break
					}
				}
			}
		}
		if fl.server < 0 {
			if fl.npend < maxPending {
				off := len(fl.pendBuf)
				fl.pendBuf = append(fl.pendBuf, pdu...)
				fl.pend[fl.npend] = pendingPDU{side: int8(side), ts: ts, input: e.input, packet: pkt, off: off, len: len(pdu)}
				fl.npend++
				return
			}
			fl.server = int8(1 - fl.pend[0].side)
		}
		e.flushPending(fl)
	}
	e.decode(fl, side, pdu, ts, e.input, pkt)
}

// flushPending decodes held PDUs (deciding the server side as the peer of
// the first sender if still unknown).
func (e *Engine) flushPending(fl *Flow) {
	if fl.npend == 0 {
		return
	}
	if fl.server < 0 {
		fl.server = int8(1 - fl.pend[0].side)
	}
	n := fl.npend
	fl.npend = 0
	for i := 0; i < n; i++ {
		pp := fl.pend[i]
		e.decode(fl, int(pp.side), fl.pendBuf[pp.off:pp.off+pp.len], pp.ts, pp.input, pp.packet)
	}
	fl.pendBuf = fl.pendBuf[:0]
}

func (e *Engine) decode(fl *Flow, side int, pdu []byte, ts int64, input int, packet uint64) {
	d := e.dissectors[fl.proto]
	c := &e.ctx
	c.TS = ts
	c.Input, c.Packet = input, packet
	c.Transport = TransportTCP
	if fl.key.proto == ipProtoUDP {
		c.Transport = TransportUDP
	}
	c.Dir = DirRequest
	if int(fl.server) == side {
		c.Dir = DirResponse
	}
	c.Src, c.Dst = fl.ep[side], fl.ep[1-side]
	c.FlowID, c.FlowSlot = fl.ID, fl.Slot
	p := d.Proto()
	c.proto = p
	e.stats.PDUs[p]++
	if err := d.Decode(c, pdu); err != nil {
		e.stats.PDUErrors[p]++
	}
}

// release is called by the flow table before a flow leaves it.
func (e *Engine) release(fl *Flow) {
	e.flushPending(fl)
	e.resetStream(&fl.tcp[0])
	e.resetStream(&fl.tcp[1])
}

// Flush hands the events written so far to the sink.
func (e *Engine) Flush() { e.ctx.Flush() }

// Close decodes what flows still hold (PDUs waiting for their server side
// to be known) and flushes. Partial PDUs at the end of the input are
// counted, not decoded.
func (e *Engine) Close() {
	e.flows.each(func(fl *Flow) {
		e.flushPending(fl)
		for s := range fl.tcp {
			if len(fl.tcp[s].buf) > 0 {
				e.stats.PartialPDUsLost++
				fl.tcp[s].buf = fl.tcp[s].buf[:0]
			}
		}
	})
	e.Flush()
}

// LastTS is the latest packet time seen.
func (e *Engine) LastTS() int64 { return e.now }

// Add adds o's counters to s (to total the engines of several workers).
func (s *Stats) Add(o Stats) {
	s.Packets += o.Packets
	s.Bytes += o.Bytes
	s.Truncated += o.Truncated
	s.NotIP += o.NotIP
	s.DecodeErrors += o.DecodeErrors
	s.UnsupportedLink += o.UnsupportedLink
	s.Panics += o.Panics
	s.FlowsCreated += o.FlowsCreated
	s.FlowsExpired += o.FlowsExpired
	s.FlowsEvicted += o.FlowsEvicted
	s.FlowsActive += o.FlowsActive
	s.TCPRetransmitted += o.TCPRetransmitted
	s.TCPOverlaps += o.TCPOverlaps
	s.TCPOutOfOrder += o.TCPOutOfOrder
	s.TCPGaps += o.TCPGaps
	s.TCPLostBytes += o.TCPLostBytes
	s.TruncatedSegments += o.TruncatedSegments
	s.PartialPDUsLost += o.PartialPDUsLost
	s.Resyncs += o.Resyncs
	s.ResyncSkippedBytes += o.ResyncSkippedBytes
	s.FramingErrors += o.FramingErrors
	for i := range s.PDUs {
		s.PDUs[i] += o.PDUs[i]
		s.PDUErrors[i] += o.PDUErrors[i]
	}
	s.UDPInvalid += o.UDPInvalid
}
