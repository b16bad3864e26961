package dissect

// BatchSize is the number of events a batch holds before it is handed on.
const BatchSize = 256

const arenaChunk = 64 << 10

// Batch carries events from dissect to detect. Batches are reused: after
// Sink.Process returns (or, with an AsyncSink, once the consumer has given
// the batch back), the batch is reset and every event, detail and arena copy
// in it is overwritten. Nothing in a batch may be kept past Process without
// copying.
type Batch struct {
	Events []Event
	gen    uint64
	slot   int      // which of its engine's batches this is (see Slab)
	chunks [][]byte // arena: byte copies; chunks are kept and reused
	cur    int      // chunk being filled
}

// MaxInFlight is how many batches one engine (one set of dissectors) may
// have in use at once: the one being filled and those handed to an
// AsyncSink and not yet given back.
const MaxInFlight = 4

// NewBatch returns an empty batch with room for BatchSize events, slot 0.
func NewBatch() *Batch { return NewBatchSlot(0) }

// NewBatchSlot returns an empty batch for slot i (0 ≤ i < MaxInFlight): an
// engine that keeps several batches in flight gives each its own slot, so
// that the details dissectors write into one are not reused for another.
func NewBatchSlot(i int) *Batch {
	if i < 0 || i >= MaxInFlight {
		panic("dissect: batch slot out of range")
	}
	return &Batch{Events: make([]Event, 0, BatchSize), gen: 1, slot: i}
}

// Len is the number of events in the batch.
func (b *Batch) Len() int { return len(b.Events) }

// Full reports whether the batch has no room for another event.
func (b *Batch) Full() bool { return len(b.Events) >= cap(b.Events) }

// Gen numbers the batch's contents: it changes at every Reset. Slabs use it
// to know when their values may be reused.
func (b *Batch) Gen() uint64 { return b.gen }

// Reset empties the batch for reuse.
func (b *Batch) Reset() {
	b.Events = b.Events[:0]
	b.gen++
	for i := range b.chunks {
		b.chunks[i] = b.chunks[i][:0]
	}
	b.cur = 0
}

// add appends a zeroed event and returns it; the caller checks Full first.
func (b *Batch) add() *Event {
	b.Events = b.Events[:len(b.Events)+1]
	e := &b.Events[len(b.Events)-1]
	*e = Event{}
	return e
}

// Copy copies p into the batch's arena and returns the copy. Copies stay
// valid until Reset. The arena grows in chunks, so earlier copies never move.
func (b *Batch) Copy(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	if len(p) > arenaChunk {
		return append([]byte(nil), p...) // larger than a chunk: rare, allocate
	}
	for ; b.cur < len(b.chunks); b.cur++ {
		c := b.chunks[b.cur]
		if cap(c)-len(c) >= len(p) {
			n := len(c)
			c = append(c, p...)
			b.chunks[b.cur] = c
			return c[n:len(c):len(c)]
		}
	}
	c := make([]byte, 0, arenaChunk)
	c = append(c, p...)
	b.chunks = append(b.chunks, c)
	return c[:len(p):len(p)]
}

// Slab hands out values of T that live as long as a batch's contents: a
// dissector keeps one Slab per detail type and takes a value for each event
// (after Context.Event, which may start a new batch). Each batch slot has
// its own storage, reused once that batch is reset, so steady state
// allocates nothing and a batch still being consumed is never overwritten;
// earlier values never move while a batch is being filled.
type Slab[T any] struct {
	per [MaxInFlight]slabPart[T]
}

type slabPart[T any] struct {
	chunks [][]T
	n      int
	gen    uint64
}

const slabChunk = 64

// New returns a zeroed T valid until b is reset.
func (s *Slab[T]) New(b *Batch) *T {
	p := &s.per[b.slot]
	if p.gen != b.gen {
		p.gen, p.n = b.gen, 0
	}
	ci, i := p.n/slabChunk, p.n%slabChunk
	if ci == len(p.chunks) {
		p.chunks = append(p.chunks, make([]T, slabChunk))
	}
	p.n++
	v := &p.chunks[ci][i]
	var zero T
	*v = zero
	return v
}

// Sink consumes batches. Process runs synchronously: when it returns, the
// batch is reused.
type Sink interface {
	Process(b *Batch)
}

// AsyncSink is a Sink that takes batches over to another goroutine: Handoff
// takes ownership of the full batch b and returns an empty batch (of the same
// engine, reset) to fill next, waiting for one if all are in flight. A
// Context whose sink is an AsyncSink calls Handoff instead of Process.
type AsyncSink interface {
	Sink
	Handoff(b *Batch) *Batch
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(b *Batch)

// Process calls f(b).
func (f SinkFunc) Process(b *Batch) { f(b) }
