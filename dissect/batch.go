package dissect

// BatchSize is the number of events a batch holds before it is handed on.
const BatchSize = 256

const arenaChunk = 64 << 10

// Batch carries events from dissect to detect. The engine reuses one batch:
// after Sink.Process returns, the batch is reset and every event, detail and
// arena copy in it is overwritten. Nothing in a batch may be kept past
// Process without copying.
type Batch struct {
	Events []Event
	gen    uint64
	chunks [][]byte // arena: byte copies; chunks are kept and reused
	cur    int      // chunk being filled
}

// NewBatch returns an empty batch with room for BatchSize events.
func NewBatch() *Batch {
	return &Batch{Events: make([]Event, 0, BatchSize), gen: 1}
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
// (after Context.Event, which may start a new batch). Values are reused once
// the batch is reset, so steady state allocates nothing; earlier values never
// move while a batch is being filled.
type Slab[T any] struct {
	chunks [][]T
	n      int
	gen    uint64
}

const slabChunk = 64

// New returns a zeroed T valid until b is reset.
func (s *Slab[T]) New(b *Batch) *T {
	if s.gen != b.gen {
		s.gen, s.n = b.gen, 0
	}
	ci, i := s.n/slabChunk, s.n%slabChunk
	if ci == len(s.chunks) {
		s.chunks = append(s.chunks, make([]T, slabChunk))
	}
	s.n++
	v := &s.chunks[ci][i]
	var zero T
	*v = zero
	return v
}

// Sink consumes batches. Process runs synchronously: when it returns, the
// batch is reused.
type Sink interface {
	Process(b *Batch)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(b *Batch)

// Process calls f(b).
func (f SinkFunc) Process(b *Batch) { f(b) }
