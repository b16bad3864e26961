package modbus

import (
	"net/netip"
	"testing"

	"github.com/tapwire/tapwire/dissect"
)

// harness decodes PDUs of one flow through a real dissect.Context, as the
// flow engine would.
type harness struct {
	d       *Dissector
	b       *dissect.Batch
	c       *dissect.Context
	flushed int // batches handed to the sink
}

const (
	testFlowSlot = 3
	testFlowID   = 42
)

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	h := &harness{d: New(), b: dissect.NewBatch()}
	h.c = dissect.NewContext(h.b, dissect.SinkFunc(func(*dissect.Batch) { h.flushed++ }))
	h.c.SetProto(dissect.ProtoModbus)
	h.c.Transport = dissect.TransportTCP
	h.c.FlowSlot = testFlowSlot
	h.c.FlowID = testFlowID
	h.c.TS = 1767225600e9
	return h
}

var (
	client = dissect.Endpoint{Kind: dissect.EndpointIP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 49152}
	server = dissect.Endpoint{Kind: dissect.EndpointIP, Addr: netip.MustParseAddr("10.0.0.2"), Port: 502}
)

// setDir sets the context's direction and the endpoints that go with it.
func (h *harness) setDir(dir dissect.Dir) {
	h.c.Dir = dir
	h.c.Src, h.c.Dst = client, server
	if dir == dissect.DirResponse {
		h.c.Src, h.c.Dst = server, client
	}
}

// decode decodes adu in direction dir and returns the event it wrote, or
// nil when it wrote none.
func (h *harness) decode(dir dissect.Dir, adu []byte) (*dissect.Event, error) {
	h.setDir(dir)
	n, flushed := h.b.Len(), h.flushed
	err := h.d.Decode(h.c, adu)
	return h.last(n, flushed), err
}

// decodePDU is decode for DecodePDU.
func (h *harness) decodePDU(dir dissect.Dir, unit byte, key uint32, hasTID bool, tid uint16, pdu []byte) (*dissect.Event, error) {
	h.setDir(dir)
	n, flushed := h.b.Len(), h.flushed
	err := h.d.DecodePDU(h.c, unit, key, hasTID, tid, pdu)
	return h.last(n, flushed), err
}

func (h *harness) last(n, flushed int) *dissect.Event {
	if h.flushed != flushed {
		n = 0
	}
	if h.b.Len() == n {
		return nil
	}
	return &h.b.Events[h.b.Len()-1]
}

// detailJSON renders an event's details.
func detailJSON(e *dissect.Event) string {
	if e == nil || e.Detail == nil {
		return ""
	}
	return string(e.Detail.AppendJSON(nil))
}
