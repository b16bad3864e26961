package main

// The output stage: segments wait in a time-ordered queue until the model
// has moved far enough past them that nothing earlier can still come (split
// parts go out a little before their PDU, retransmissions long after), then
// they are framed and written in time order.

// Segment modes.
const (
	segNormal     = iota
	segLost       // sent by its host, missed by the capture
	segRetransmit // a second copy of a segment already written
)

const (
	lookback = 2 * ms // how far back the segmenter may place a segment
	maxRecs  = maxCoalesce + 1
)

// segment is one TCP segment on its way to the capture file.
type segment struct {
	t     int64
	order uint64
	c     *conn
	dir   uint8
	flags uint8
	mode  uint8
	seq   uint32
	ack   uint32
	data  []byte // owned, reused when the slot is free again
	nrec  int
	recs  [maxRecs]pduInfo // PDUs this segment completes
}

func (s *segment) addInfo(in pduInfo) {
	s.recs[s.nrec] = in
	s.nrec++
}

func (s *segment) addRecord(lp *lpkt) { s.addInfo(infoOf(lp.payload)) }

// outQueue is a pool of segments and a min-heap of their indexes on
// (t, order); it reuses both, so steady state allocates nothing.
type outQueue struct {
	segs  []segment
	free  []int32
	heap  minHeap[int32] // indexes into segs
	order uint64
	lastT int64 // time of the latest segment taken out of the queue
	sink  *sink
}

func newOutQueue(sk *sink) *outQueue {
	q := &outQueue{sink: sk}
	q.heap.less = func(a, b int32) bool {
		x, y := &q.segs[a], &q.segs[b]
		return x.t < y.t || x.t == y.t && x.order < y.order
	}
	return q
}

func (q *outQueue) done() bool { return q.sink.full() }
func (q *outQueue) err() error { return q.sink.err }

// add fills a free segment and returns its index; push queues it.
func (q *outQueue) add(t int64, c *conn, dir, flags uint8, seq, ack uint32, data []byte) int32 {
	var i int32
	if n := len(q.free); n > 0 {
		i = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		q.segs = append(q.segs, segment{})
		i = int32(len(q.segs) - 1)
	}
	s := &q.segs[i]
	s.t, s.c, s.dir, s.flags, s.mode = t, c, dir, flags, segNormal
	s.seq, s.ack = seq, ack
	s.data = append(s.data[:0], data...)
	s.nrec = 0
	return i
}

func (q *outQueue) push(i int32) {
	q.order++
	q.segs[i].order = q.order
	q.heap.push(i)
}

// advance writes every segment older than now-lookback and older than
// floor (what the segmenter still holds).
func (q *outQueue) advance(now, floor int64) {
	limit := min(now-lookback, floor)
	for q.heap.len() > 0 && !q.sink.full() && q.segs[q.heap.top()].t < limit {
		q.writeTop()
	}
}

// flushAll writes everything left.
func (q *outQueue) flushAll() {
	for q.heap.len() > 0 && !q.sink.full() {
		q.writeTop()
	}
}

func (q *outQueue) writeTop() {
	i := q.heap.pop()
	s := &q.segs[i]
	q.lastT = s.t
	q.sink.write(s)
	q.free = append(q.free, i)
}
