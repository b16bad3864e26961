package dissect

import "net/netip"

// flowKey identifies a flow in both directions: the endpoints are put in a
// canonical order (lower address, then lower port, first) so that both
// directions of a conversation find the same flow. Side 0 of a flow is the
// key's a endpoint, side 1 its b endpoint.
type flowKey struct {
	a, b   netip.Addr
	ap, bp uint16
	vlan   uint16
	proto  uint8
}

// makeKey returns the key of pkt's flow and the side pkt was sent from.
func makeKey(pkt *packet) (flowKey, int) {
	k := flowKey{vlan: pkt.vlan, proto: pkt.proto}
	c := pkt.src.Compare(pkt.dst)
	if c < 0 || (c == 0 && pkt.sport <= pkt.dport) {
		k.a, k.ap, k.b, k.bp = pkt.src, pkt.sport, pkt.dst, pkt.dport
		return k, 0
	}
	k.a, k.ap, k.b, k.bp = pkt.dst, pkt.dport, pkt.src, pkt.sport
	return k, 1
}

// Flow states.
const (
	flowOpen   uint8 = iota
	flowClosed       // RST, or FIN from both sides: kept a short while for stragglers
)

// Flow is one transport conversation (a TCP connection or a UDP
// 5-tuple). Flows are recycled by the table: a Flow value is reused for a
// later conversation with a new ID.
type Flow struct {
	ID   uint64
	Slot int

	key      flowKey
	ep       [2]Endpoint // side 0 and side 1
	lastSeen int64
	state    uint8
	list     uint8 // which expiry list holds the flow
	prev     *Flow
	next     *Flow

	// Application protocol: index into the engine's dissectors, or one
	// of the proto* values below.
	proto  int16
	probes uint8 // payload packets probed without a match
	// server is the side (0 or 1) that serves, or -1 while unknown.
	server int8

	fin [2]bool
	tcp [2]stream

	// PDUs held while the server side is unknown (see Engine.pending).
	pend    [maxPending]pendingPDU
	npend   int
	pendBuf []byte
}

const (
	protoUndecided int16 = -1 // still probing
	protoNone      int16 = -2 // given up: no dissector recognised the flow
)

// Expiry lists. Every flow on a list has the same idle timeout, so the
// least recently seen flow is always at the list's tail.
const (
	listTCP uint8 = iota
	listUDP
	listClosed
	numLists
)

type flowList struct {
	head, tail *Flow
	n          int
}

func (l *flowList) pushFront(f *Flow) {
	f.prev, f.next = nil, l.head
	if l.head != nil {
		l.head.prev = f
	}
	l.head = f
	if l.tail == nil {
		l.tail = f
	}
	l.n++
}

func (l *flowList) remove(f *Flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
	l.n--
}

// FlowConfig bounds the flow table.
type FlowConfig struct {
	// MaxFlows bounds the table. When it is full, a new flow evicts the
	// least recently seen closed flow, or else the least recently seen
	// flow of all (counted as evicted in stats).
	MaxFlows int
	// Idle timeouts on packet time, in nanoseconds.
	TCPIdle, UDPIdle, ClosedIdle int64
}

// DefaultFlowConfig is the flow table's default configuration.
var DefaultFlowConfig = FlowConfig{
	MaxFlows:   65536,
	TCPIdle:    600e9, // 10 min: OT pollers keep connections open and quiet
	UDPIdle:    120e9,
	ClosedIdle: 10e9,
}

const flowChunk = 1024

// flowTable holds the flows, their expiry lists and a free list. Flow values
// are allocated in chunks as the table grows and then reused; the map is
// sized for MaxFlows up front, so a full table allocates nothing.
type flowTable struct {
	cfg    FlowConfig
	m      map[flowKey]*Flow
	chunks [][]Flow
	nslots int
	free   []*Flow
	lists  [numLists]flowList
	nextID uint64

	// release is called before a flow leaves the table.
	release func(f *Flow)

	created, expired, evicted uint64
}

func newFlowTable(cfg FlowConfig, release func(*Flow)) *flowTable {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultFlowConfig.MaxFlows
	}
	hint := cfg.MaxFlows
	if hint > 1<<16 {
		hint = 1 << 16
	}
	return &flowTable{cfg: cfg, m: make(map[flowKey]*Flow, hint), release: release}
}

// Len is the number of live flows.
func (t *flowTable) Len() int { return len(t.m) }

// lookup returns the flow of key k, creating it (evicting if full) when
// absent, and marks it seen at ts.
func (t *flowTable) lookup(k flowKey, ts int64) (f *Flow, created bool) {
	f = t.m[k]
	if f != nil {
		f.lastSeen = ts
		l := &t.lists[f.list]
		if l.head != f {
			l.remove(f)
			l.pushFront(f)
		}
		return f, false
	}
	f = t.alloc()
	t.nextID++
	slot := f.Slot
	reuse := f.pendBuf
	bufs := [2][]byte{f.tcp[0].buf[:0], f.tcp[1].buf[:0]}
	*f = Flow{ID: t.nextID, Slot: slot, key: k, lastSeen: ts, proto: protoUndecided, server: -1, pendBuf: reuse[:0]}
	f.tcp[0].buf, f.tcp[1].buf = bufs[0], bufs[1]
	f.list = listTCP
	if k.proto == ipProtoUDP {
		f.list = listUDP
	}
	t.lists[f.list].pushFront(f)
	t.m[k] = f
	t.created++
	return f, true
}

func (t *flowTable) alloc() *Flow {
	if n := len(t.free); n > 0 {
		f := t.free[n-1]
		t.free = t.free[:n-1]
		return f
	}
	if t.nslots < t.cfg.MaxFlows {
		ci, i := t.nslots/flowChunk, t.nslots%flowChunk
		if ci == len(t.chunks) {
			t.chunks = append(t.chunks, make([]Flow, flowChunk))
		}
		f := &t.chunks[ci][i]
		f.Slot = t.nslots
		t.nslots++
		return f
	}
	// Full: evict the least recently seen closed flow, else the least
	// recently seen flow of all.
	victim := t.lists[listClosed].tail
	if victim == nil {
		for l := listTCP; l <= listUDP; l++ {
			if c := t.lists[l].tail; c != nil && (victim == nil || c.lastSeen < victim.lastSeen) {
				victim = c
			}
		}
	}
	t.evicted++
	t.drop(victim)
	n := len(t.free)
	f := t.free[n-1]
	t.free = t.free[:n-1]
	return f
}

// close moves f to the closed list.
func (t *flowTable) close(f *Flow) {
	if f.state == flowClosed {
		return
	}
	f.state = flowClosed
	t.lists[f.list].remove(f)
	f.list = listClosed
	t.lists[listClosed].pushFront(f)
}

// expire drops the flows idle for longer than their list's timeout at now.
func (t *flowTable) expire(now int64) {
	idle := [numLists]int64{t.cfg.TCPIdle, t.cfg.UDPIdle, t.cfg.ClosedIdle}
	for l := range t.lists {
		for f := t.lists[l].tail; f != nil && now-f.lastSeen > idle[l]; f = t.lists[l].tail {
			t.expired++
			t.drop(f)
		}
	}
}

func (t *flowTable) drop(f *Flow) {
	if t.release != nil {
		t.release(f)
	}
	t.lists[f.list].remove(f)
	delete(t.m, f.key)
	t.free = append(t.free, f)
}

// each calls fn for every live flow, least recently seen last.
func (t *flowTable) each(fn func(*Flow)) {
	for l := range t.lists {
		for f := t.lists[l].head; f != nil; {
			next := f.next
			fn(f)
			f = next
		}
	}
}
