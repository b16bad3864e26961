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

// eventQueue is a binary min-heap on (t, order). It is typed, so pushing and
// popping does not box events.
type eventQueue struct {
	h     []event
	order uint64
}

func (q *eventQueue) len() int { return len(q.h) }

func (q *eventQueue) less(i, j int) bool {
	a, b := &q.h[i], &q.h[j]
	return a.t < b.t || a.t == b.t && a.order < b.order
}

func (q *eventQueue) push(e event) {
	q.order++
	e.order = q.order
	q.h = append(q.h, e)
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

func (q *eventQueue) pop() event {
	e := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h = q.h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return e
}

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
