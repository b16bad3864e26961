package main

import (
	"math/rand/v2"
)

// The TCP segmenter: it cuts the logical byte streams of the model into
// segments and applies the impairments of -impair. It draws from its own
// PCG stream, so impairments never change what the model sends or when a
// PDU is complete (except coalesce, see the package doc).

// TCP flags.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagPSH = 0x08
	flagACK = 0x10
)

type impairKind uint8

const (
	impSplit impairKind = iota
	impCoalesce
	impRetransmit
	impLose
	impReorder
	numImpair
)

var impairNames = [numImpair]string{"split", "coalesce", "retransmit", "lose", "reorder"}

func (k impairKind) String() string { return impairNames[k] }

func parseImpair(list string) ([]impairKind, error) {
	return parseList(list, int(numImpair), func(i int) string { return impairNames[i] }, func(i int) impairKind { return impairKind(i) })
}

const (
	retransmitAfter = 200 * ms
	maxCoalesce     = 3        // PDUs in one coalesced segment
	coalesceWindow  = 2 * ms   // PDUs further apart are not coalesced
	splitGapMin     = 100 * us // gap between parts of a split PDU
	splitGapMax     = 400 * us
)

// lpkt is one logical packet of the model: a SYN, FIN, pure ACK or one
// complete PDU, at the time the PDU is complete on the wire.
type lpkt struct {
	t, prevT  int64 // its time and the time of its connection's previous packet
	c         *conn
	dir       uint8
	flags     uint8
	seq, ack  uint32
	payload   []byte // valid during feed only
	burstNext bool   // the same side's next PDU follows in the same pipeline
}

// held is a PDU kept back for coalescing.
type held struct {
	t        int64
	seq, ack uint32
	data     []byte
}

type segmenter struct {
	kinds []impairKind
	rate  float64
	rng   *rand.Rand
	out   *outQueue

	hold   []held // PDUs of one side waiting to be coalesced
	nhold  int
	holdC  *conn
	holdD  uint8
	joined []byte
}

// impairStream keys the segmenter's PCG stream; the model uses others.
const impairStream = 0x1337_0000

func (sg *segmenter) init(cfg config, out *outQueue) {
	sg.kinds = cfg.impair
	sg.rate = cfg.impairRate
	sg.rng = rand.New(rand.NewPCG(cfg.seed, impairStream))
	sg.out = out
	sg.hold = make([]held, maxCoalesce)
}

// floor is the earliest time the segmenter may still emit: the output stage
// must not write anything at or after it yet.
func (sg *segmenter) floor() int64 {
	if sg.nhold > 0 {
		return sg.hold[0].t
	}
	return maxTime
}

const maxTime = int64(1<<63 - 1)

func (sg *segmenter) feed(lp *lpkt) {
	if sg.nhold > 0 {
		h0 := &sg.hold[0]
		same := lp.c == sg.holdC
		if same && lp.dir == sg.holdD && len(lp.payload) > 0 && lp.t-h0.t <= coalesceWindow {
			sg.holdPDU(lp)
			if !lp.burstNext || sg.nhold == maxCoalesce {
				sg.emitCoalesced()
			}
			return
		}
		if same || len(lp.payload) > 0 {
			sg.release() // something came between: no coalescing this time
		}
	}
	if len(lp.payload) == 0 || len(sg.kinds) == 0 || sg.rng.Float64() >= sg.rate {
		sg.plain(lp)
		return
	}
	switch sg.kinds[sg.rng.IntN(len(sg.kinds))] {
	case impSplit:
		sg.split(lp)
	case impCoalesce:
		if !lp.burstNext {
			sg.plain(lp)
			return
		}
		sg.holdC, sg.holdD = lp.c, lp.dir
		sg.holdPDU(lp)
	case impRetransmit:
		sg.plain(lp)
		i := sg.out.add(lp.t+retransmitAfter, lp.c, lp.dir, lp.flags, lp.seq, lp.ack, lp.payload)
		sg.out.segs[i].mode = segRetransmit
		sg.out.push(i)
	case impLose:
		i := sg.out.add(lp.t, lp.c, lp.dir, lp.flags, lp.seq, lp.ack, lp.payload)
		s := &sg.out.segs[i]
		s.mode = segLost
		s.addRecord(lp)
		sg.out.push(i)
	case impReorder:
		sg.reorder(lp)
	}
}

// finish releases what is still held at the end of the model.
func (sg *segmenter) finish() {
	if sg.nhold > 0 {
		sg.release()
	}
}

// plain emits lp as one segment.
func (sg *segmenter) plain(lp *lpkt) {
	i := sg.out.add(lp.t, lp.c, lp.dir, lp.flags, lp.seq, lp.ack, lp.payload)
	if len(lp.payload) > 0 {
		sg.out.segs[i].addRecord(lp)
	}
	sg.out.push(i)
}

func (sg *segmenter) holdPDU(lp *lpkt) {
	h := &sg.hold[sg.nhold]
	h.t, h.seq, h.ack = lp.t, lp.seq, lp.ack
	h.data = append(h.data[:0], lp.payload...)
	sg.nhold++
}

// emitCoalesced writes the held PDUs as one segment at the time of the last.
func (sg *segmenter) emitCoalesced() {
	first, last := &sg.hold[0], &sg.hold[sg.nhold-1]
	sg.joined = sg.joined[:0]
	for k := 0; k < sg.nhold; k++ {
		sg.joined = append(sg.joined, sg.hold[k].data...)
	}
	i := sg.out.add(last.t, sg.holdC, sg.holdD, flagPSH|flagACK, first.seq, last.ack, sg.joined)
	s := &sg.out.segs[i]
	for k := 0; k < sg.nhold; k++ {
		s.addInfo(infoOf(sg.hold[k].data))
	}
	sg.out.push(i)
	sg.nhold = 0
}

// release writes held PDUs one segment each, at their own times.
func (sg *segmenter) release() {
	for k := 0; k < sg.nhold; k++ {
		h := &sg.hold[k]
		i := sg.out.add(h.t, sg.holdC, sg.holdD, flagPSH|flagACK, h.seq, h.ack, h.data)
		sg.out.segs[i].addInfo(infoOf(h.data))
		sg.out.push(i)
	}
	sg.nhold = 0
}

// earliest is the first time a part of lp may go out: after the previous
// packet of its connection (so the stream stays in order) and not before
// what the output has written.
func (sg *segmenter) earliest(lp *lpkt) int64 {
	return max(lp.prevT+1, sg.out.lastT)
}

// split sends a PDU as 2 or 3 segments; the earlier parts go out a few
// hundred microseconds before the last, which completes the PDU at its time.
func (sg *segmenter) split(lp *lpkt) {
	n := 2 + sg.rng.IntN(2)
	size := len(lp.payload)
	var cut [3]int
	cut[0] = 1 + sg.rng.IntN(size-1)
	cut[1] = size
	if n == 3 && size-cut[0] >= 2 {
		cut[1] = cut[0] + 1 + sg.rng.IntN(size-cut[0]-1)
		cut[2] = size
	} else {
		n = 2
	}
	var at [3]int64
	at[n-1] = lp.t
	for k := n - 2; k >= 0; k-- {
		at[k] = at[k+1] - between(sg.rng, splitGapMin, splitGapMax)
	}
	lo := sg.earliest(lp)
	if at[0] < lo {
		room := lp.t - lo
		if room < int64(n-1) {
			sg.plain(lp)
			return
		}
		for k := 0; k < n-1; k++ {
			at[k] = lo + room*int64(k)/int64(n-1)
		}
	}
	from := 0
	for k := 0; k < n; k++ {
		flags := uint8(flagACK)
		if k == n-1 {
			flags |= flagPSH
		}
		i := sg.out.add(at[k], lp.c, lp.dir, flags, lp.seq+uint32(from), lp.ack, lp.payload[from:cut[k]])
		if k == n-1 {
			sg.out.segs[i].addRecord(lp)
		}
		sg.out.push(i)
		from = cut[k]
	}
}

// reorder splits a PDU in two and lets the capture see the second part
// first; the PDU is complete when the first part arrives, at its time.
func (sg *segmenter) reorder(lp *lpkt) {
	size := len(lp.payload)
	if size < 2 {
		sg.plain(lp)
		return
	}
	cut := 1 + sg.rng.IntN(size-1)
	early := lp.t - between(sg.rng, 50*us, 300*us)
	if lo := sg.earliest(lp); early < lo {
		if lp.t-lo < 1 {
			sg.plain(lp)
			return
		}
		early = lo
	}
	i := sg.out.add(early, lp.c, lp.dir, flagPSH|flagACK, lp.seq+uint32(cut), lp.ack, lp.payload[cut:])
	sg.out.push(i)
	i = sg.out.add(lp.t, lp.c, lp.dir, flagACK, lp.seq, lp.ack, lp.payload[:cut])
	sg.out.segs[i].addRecord(lp)
	sg.out.push(i)
}
