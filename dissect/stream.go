package dissect

// TCP PDU framing, per direction of a flow.
//
// Each direction keeps the next expected sequence number and, when a PDU
// spans segments, the bytes of that PDU seen so far (bounded by the
// dissector's MaxPDU). Complete PDUs inside a segment are decoded in place,
// without a copy.
//
//   - Retransmissions and overlaps: bytes before the next expected sequence
//     number are dropped (the first copy wins).
//   - Out-of-order segments: a segment beyond the next expected sequence
//     number waits in a small queue (maxOOO segments per direction, copies
//     from an engine-wide bounded pool) until the hole before it is filled.
//   - Loss: the hole is declared lost when the peer acknowledges bytes the
//     capture never delivered (the capture lost them, the peer did not),
//     when the queue or the pool is full, or when the hole is older than
//     Config.HoleTimeout of packet time. The lost bytes are counted, a
//     partial PDU is dropped and counted, and the direction resynchronises.
//   - Resynchronisation: in resync state the framer scans for the next
//     offset where the dissector's Probe accepts the bytes as a valid
//     header (usually the start of the next segment), skipping and counting
//     what lies before it. A header that Frame rejects mid-stream also
//     triggers a resync.

const (
	streamNew    uint8 = iota // nothing seen yet
	streamSync                // next is known and framing is aligned
	streamResync              // next is known, looking for a PDU header
)

const maxOOO = 8

// resyncKeep is how many trailing bytes a resynchronising stream keeps when
// no header starts in what it has seen: a header may begin there and end
// in the next segment.
const resyncKeep = 32

type oooSeg struct {
	seq    uint32
	ts     int64  // packet time of the segment
	packet uint64 // its frame number
	data   []byte // from the engine's segment pool
}

type stream struct {
	state  uint8
	next   uint32
	buf    []byte // bytes of a PDU that continues in later segments
	bufTS  int64  // latest packet time of the bytes in buf
	bufPkt uint64 // and its frame number
	ooo    [maxOOO]oooSeg
	nooo   int
	holeTS int64 // packet time the oldest queued segment arrived
}

// seqDiff is a - b in sequence space.
func seqDiff(a, b uint32) int32 { return int32(a - b) }

// segPool hands out copies for out-of-order segments, bounded in number.
type segPool struct {
	free  [][]byte
	inUse int
	max   int
}

func (p *segPool) get(data []byte) ([]byte, bool) {
	if p.inUse >= p.max {
		return nil, false
	}
	p.inUse++
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		if cap(b) >= len(data) {
			return append(b[:0], data...), true
		}
	}
	size := 2048
	if len(data) > size {
		size = len(data)
	}
	return append(make([]byte, 0, size), data...), true
}

func (p *segPool) put(b []byte) {
	p.inUse--
	if cap(b) <= 2048 {
		p.free = append(p.free, b[:0])
	}
}

// segment takes the payload p of a TCP segment with sequence number seq
// sent by side.
func (e *Engine) segment(fl *Flow, side int, seq uint32, p []byte, ts int64, pkt uint64) {
	st := &fl.tcp[side]
	if st.state == streamNew {
		// Picked up mid-stream: the segment may start inside a PDU.
		st.state, st.next = streamResync, seq
	}
	if st.nooo > 0 && ts-st.holeTS > e.cfg.HoleTimeout {
		e.skipHole(fl, side, st.ooo[e.lowestOOO(st)].seq)
		e.drain(fl, side)
	}
	d := seqDiff(seq, st.next)
	if d < 0 {
		if int(-d) >= len(p) {
			e.stats.TCPRetransmitted++
			return
		}
		e.stats.TCPOverlaps++
		p = p[-d:]
		seq = st.next
		d = 0
	}
	if d > 0 {
		e.queue(fl, side, seq, p, ts, pkt)
		return
	}
	e.deliver(fl, side, p, ts, pkt)
	st.next += uint32(len(p))
	e.drain(fl, side)
}

func (e *Engine) lowestOOO(st *stream) int {
	lo := 0
	for i := 1; i < st.nooo; i++ {
		if seqDiff(st.ooo[i].seq, st.ooo[lo].seq) < 0 {
			lo = i
		}
	}
	return lo
}

// queue holds an out-of-order segment until the hole before it fills.
func (e *Engine) queue(fl *Flow, side int, seq uint32, p []byte, ts int64, pkt uint64) {
	st := &fl.tcp[side]
	for i := 0; i < st.nooo; i++ {
		if st.ooo[i].seq == seq && len(st.ooo[i].data) >= len(p) {
			e.stats.TCPRetransmitted++
			return
		}
	}
	if st.nooo < maxOOO {
		if c, ok := e.segs.get(p); ok {
			if st.nooo == 0 {
				st.holeTS = ts
			}
			st.ooo[st.nooo] = oooSeg{seq: seq, ts: ts, packet: pkt, data: c}
			st.nooo++
			e.stats.TCPOutOfOrder++
			return
		}
	}
	// No room to wait: the hole before the lowest queued data (or before
	// this segment) is lost. Draining frees at least one queue entry, so
	// the retry below makes progress.
	e.skipHole(fl, side, seq)
	e.drain(fl, side)
	e.segment(fl, side, seq, p, ts, pkt)
}

// drain delivers queued segments that the stream has caught up with. Their
// PDUs keep the packet time and frame of the segment that completed them.
func (e *Engine) drain(fl *Flow, side int) {
	st := &fl.tcp[side]
	for st.nooo > 0 {
		i := e.lowestOOO(st)
		s := st.ooo[i]
		d := seqDiff(s.seq, st.next)
		if d > 0 {
			return
		}
		st.nooo--
		st.ooo[i] = st.ooo[st.nooo]
		st.ooo[st.nooo] = oooSeg{}
		if int(-d) < len(s.data) {
			p := s.data[-d:]
			e.deliver(fl, side, p, s.ts, s.packet)
			st.next += uint32(len(p))
		} else {
			e.stats.TCPRetransmitted++
		}
		e.segs.put(s.data)
	}
}

// skipHole declares the bytes from the stream's next sequence number up to
// to lost, and resynchronises.
func (e *Engine) skipHole(fl *Flow, side int, to uint32) {
	st := &fl.tcp[side]
	if st.nooo > 0 {
		if lo := st.ooo[e.lowestOOO(st)].seq; seqDiff(lo, to) < 0 {
			to = lo
		}
	}
	d := seqDiff(to, st.next)
	if d <= 0 {
		return
	}
	e.stats.TCPGaps++
	e.stats.TCPLostBytes += uint64(d)
	if len(st.buf) > 0 {
		e.stats.PartialPDUsLost++
		st.buf = st.buf[:0]
	}
	st.next = to
	st.state = streamResync
}

// ackSeen handles the peer's acknowledgement of side's bytes: an ack above
// what the capture delivered means the capture lost them.
func (e *Engine) ackSeen(fl *Flow, side int, ack uint32) {
	st := &fl.tcp[side]
	if st.state == streamNew {
		return
	}
	d := seqDiff(ack, st.next)
	if d <= 0 || d > 1<<30 {
		return
	}
	if fl.fin[side] && d == 1 {
		return // the FIN's sequence number
	}
	e.skipHole(fl, side, ack)
	e.drain(fl, side)
}

// deliver frames in-order bytes p of side's stream into PDUs. ts and pkt
// are the packet time and frame number of the segment p came in; a PDU made
// of several segments takes the latest of theirs.
func (e *Engine) deliver(fl *Flow, side int, p []byte, ts int64, pkt uint64) {
	if fl.proto == protoUndecided {
		if !e.choose(fl, side, p) {
			return
		}
		// Chosen on this payload: frame it from a header.
		fl.tcp[0].buf, fl.tcp[1].buf = fl.tcp[0].buf[:0], fl.tcp[1].buf[:0]
	}
	if fl.proto < 0 {
		return
	}
	d := e.dissectors[fl.proto]
	st := &fl.tcp[side]
	for {
		if st.state == streamResync {
			if len(p) == 0 {
				return
			}
			// Look for a header across segment boundaries: the bytes kept
			// from earlier segments (in buf) come first.
			w := p
			if len(st.buf) > 0 {
				st.buf = append(st.buf, p...)
				w = st.buf
			}
			off := resyncOffset(d, w)
			if off < 0 {
				// Keep the tail: a header may begin there.
				keep := min(len(w), resyncKeep)
				e.stats.ResyncSkippedBytes += uint64(len(w) - keep)
				if len(st.buf) > 0 {
					// w is buf: move its tail to the front (copy is memmove).
					st.buf = st.buf[:copy(st.buf, w[len(w)-keep:])]
				} else {
					st.buf = append(st.buf, w[len(w)-keep:]...)
				}
				return
			}
			e.stats.ResyncSkippedBytes += uint64(off)
			e.stats.Resyncs++
			if len(st.buf) > 0 {
				e.scratch = append(e.scratch[:0], w[off:]...)
				p = e.scratch
			} else {
				p = p[off:]
			}
			st.buf = st.buf[:0]
			st.state = streamSync
		}
		if len(st.buf) > 0 {
			// Complete the PDU that began in an earlier segment. While its
			// header is incomplete, add one byte at a time: a header never
			// takes bytes of the next PDU.
			n, err := d.Frame(st.buf)
			for err == nil && n == 0 && len(p) > 0 {
				st.buf = append(st.buf, p[0])
				p = p[1:]
				n, err = d.Frame(st.buf)
			}
			if ts > st.bufTS {
				st.bufTS, st.bufPkt = ts, pkt
			}
			if err != nil || n > d.MaxPDU() || (n > 0 && n < len(st.buf)) {
				e.desync(fl, side)
				continue
			}
			if n == 0 {
				return // the header continues in a later segment
			}
			take := n - len(st.buf)
			if take > len(p) {
				st.buf = append(st.buf, p...)
				return
			}
			st.buf = append(st.buf, p[:take]...)
			p = p[take:]
			e.pdu(fl, side, st.buf, st.bufTS, st.bufPkt)
			st.buf = st.buf[:0]
			continue
		}
		if len(p) == 0 {
			return
		}
		n, err := d.Frame(p)
		if err != nil || n > d.MaxPDU() {
			e.desync(fl, side)
			e.stats.ResyncSkippedBytes++
			p = p[1:]
			continue
		}
		if n == 0 || n > len(p) {
			st.buf = append(st.buf[:0], p...)
			st.bufTS, st.bufPkt = ts, pkt
			return
		}
		e.pdu(fl, side, p[:n], ts, pkt)
		p = p[n:]
	}
}

// desync drops the current framing of side's stream: the bytes do not
// start a valid header.
func (e *Engine) desync(fl *Flow, side int) {
	e.stats.FramingErrors++
	st := &fl.tcp[side]
	st.buf = st.buf[:0]
	st.state = streamResync
}

// resyncOffset finds the first offset in p where d accepts a header.
func resyncOffset(d Dissector, p []byte) int {
	for off := range p {
		if d.Probe(p[off:]) {
			return off
		}
	}
	return -1
}
