package dissect

import "testing"

// Two batches in flight: filling the second never overwrites the details
// of the first, and a reset batch reuses its own storage.
func TestSlabPerBatchSlot(t *testing.T) {
	var s Slab[int]
	a, b := NewBatchSlot(0), NewBatchSlot(1)
	var fromA []*int
	for i := 0; i < 100; i++ {
		v := s.New(a)
		*v = i
		fromA = append(fromA, v)
	}
	for i := 0; i < 100; i++ {
		*s.New(b) = -1
	}
	for i, v := range fromA {
		if *v != i {
			t.Fatalf("value %d of batch A overwritten: %d", i, *v)
		}
	}
	a.Reset()
	if v := s.New(a); v != fromA[0] || *v != 0 {
		t.Errorf("a reset batch does not reuse its storage")
	}
	if n := testing.AllocsPerRun(100, func() {
		b.Reset()
		for i := 0; i < 100; i++ {
			s.New(b)
		}
	}); n != 0 {
		t.Errorf("%v allocations per refill", n)
	}
}

type handoff struct {
	free chan *Batch
	got  []int
}

func (h *handoff) Process(b *Batch) { panic("Process called on an AsyncSink") }
func (h *handoff) Handoff(b *Batch) *Batch {
	h.got = append(h.got, b.Len())
	b.Reset()
	h.free <- b
	return <-h.free
}

func TestContextHandsOffToAsyncSink(t *testing.T) {
	h := &handoff{free: make(chan *Batch, 2)}
	h.free <- NewBatchSlot(1)
	c := NewContext(NewBatchSlot(0), h)
	for i := 0; i < BatchSize+10; i++ {
		c.Event()
	}
	c.Flush()
	if len(h.got) != 2 || h.got[0] != BatchSize || h.got[1] != 10 {
		t.Errorf("handoffs %v, want [%d 10]", h.got, BatchSize)
	}
}
