package main

// evKind says what happens at an event.
type evKind uint8

const (
	evOpen      evKind = iota // client sends SYN
	evSynAck                  // server answers SYN-ACK
	evHandshake               // client completes the handshake
	evCycle                   // master starts a poll cycle
	evSend                    // client sends the next queued request
	evResponse                // server sends the oldest pending response
	evClientAck               // client's delayed or quick pure ACK
	evServerAck               // server's delayed pure ACK
	evClose                   // client sends FIN
	evServerFin               // server answers FIN-ACK
	evLastAck                 // client ACKs the server's FIN
	evStep                    // attack script: next request
	evTimeout                 // attack script: a request got no answer
	evAttack                  // an attack begins (conn is the attack index)
)

// event is one entry of the scheduler's queue. Events of equal time run in
// the order they were scheduled.
type event struct {
	t     int64 // µs since the Unix epoch
	order uint64
	kind  evKind
	conn  int32
	gen   uint32 // generation for cancellable timers
}

// eventQueue orders events on (t, order): the order of pushing breaks
// ties, so the traffic is deterministic.
type eventQueue struct {
	h     minHeap[event]
	order uint64
}

func eventBefore(a, b event) bool { return a.t < b.t || a.t == b.t && a.order < b.order }

func (q *eventQueue) len() int { return q.h.len() }

func (q *eventQueue) push(e event) {
	if q.h.less == nil {
		q.h.less = eventBefore
	}
	q.order++
	e.order = q.order
	q.h.push(e)
}

func (q *eventQueue) pop() event { return q.h.pop() }

// aduQueue is a FIFO of ADUs with their times, reusing its storage.
type aduQueue struct {
	items []queuedADU
	head  int
}

type queuedADU struct {
	t   int64 // when it is due (response time for pending requests)
	exc uint8 // exception the server will return, 0 for none
	n   int
	b   [maxADU]byte
}

func (q *aduQueue) len() int { return len(q.items) - q.head }

// add returns a slot at the tail to fill in.
func (q *aduQueue) add() *queuedADU {
	if q.head > 0 && len(q.items) == cap(q.items) {
		n := copy(q.items, q.items[q.head:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, queuedADU{})
	return &q.items[len(q.items)-1]
}

// front returns the oldest entry; remove drops it.
func (q *aduQueue) front() *queuedADU { return &q.items[q.head] }

func (q *aduQueue) remove() {
	q.head++
	if q.head == len(q.items) {
		q.items = q.items[:0]
		q.head = 0
	}
}
