package dissect

// Dissector is the contract every protocol implements. A dissector is
// recognised by structure (Probe), with well-known ports only as a hint;
// it decodes without allocating: it reads fields in place, keeps per-flow
// state in slices indexed by Context.FlowSlot, takes detail values from a
// Slab and copies the bytes it keeps with Context.Copy. One dissector value
// serves one pipeline (one goroutine); it is not safe for concurrent use.
type Dissector interface {
	// Proto is the protocol this dissector writes into events.
	Proto() Proto
	// Ports are the well-known server ports (TCP and UDP). A flow to or from
	// one of them is offered to this dissector first, and the port's side is
	// taken as the server.
	Ports() []uint16
	// Probe reports whether b, the first payload seen in one direction of a
	// flow, has this protocol's structure. It decides flows on other ports.
	Probe(b []byte) bool
	// Frame frames a byte stream into PDUs: it returns the length of the
	// PDU that starts at b[0] (which may be more than len(b): the PDU
	// continues in later segments), or 0 when b is too short to tell, or an
	// error wrapping ErrMalformed when b does not start with a valid header;
	// the stream then resynchronises on the next valid header.
	Frame(b []byte) (n int, err error)
	// MaxPDU is the largest length Frame ever returns.
	MaxPDU() int
	// Classify tells from the PDU's structure alone whether it is a request
	// or a response, or DirUnknown when both are possible.
	Classify(pdu []byte) Dir
	// PairKey returns the key that pairs a request with its response (a
	// transaction id), and false when the PDU carries none.
	PairKey(pdu []byte) (key uint32, ok bool)
	// Decode decodes one whole PDU (as Frame delimited it) travelling in
	// direction c.Dir and writes its event(s) through c. An undecodable PDU
	// still yields an event with OK false where its function code can be
	// read; the returned error (wrapping ErrMalformed or ErrTruncated) is
	// counted by the engine.
	Decode(c *Context, pdu []byte) error
}

// Context is what a dissector knows about the PDU it decodes, and its way
// to write events.
type Context struct {
	TS        int64 // packet time of the packet that completed the PDU
	Transport Transport
	Dir       Dir      // request (client to server) or response
	Src, Dst  Endpoint // sender and receiver
	FlowID    uint64   // unique for the process's lifetime
	// FlowSlot is a small index (below the flow table's capacity) that stays
	// the flow's while it lives; a new flow may reuse the slot of an expired
	// one, with a new FlowID.
	FlowSlot int
	Input    int    // the input the PDU came from
	Packet   uint64 // frame number of the completing frame within its input

	proto Proto
	batch *Batch
	sink  Sink
}

// NewContext prepares a context that writes into batch b, handing it to
// sink whenever it fills. Drivers outside the flow engine (the serial tap)
// use it; the engine keeps its own.
func NewContext(b *Batch, sink Sink) *Context {
	return &Context{batch: b, sink: sink}
}

// SetProto sets the protocol written into the events that follow.
func (c *Context) SetProto(p Proto) { c.proto = p }

// Event starts a new event with the context's common fields filled in and
// OK set. When the batch is full it is handed to the sink first, so call
// Event before taking detail values or copies for that event.
func (c *Context) Event() *Event {
	if c.batch.Full() {
		c.Flush()
	}
	e := c.batch.add()
	e.TS = c.TS
	e.Proto = c.proto
	e.Transport = c.Transport
	e.Dir = c.Dir
	e.Src, e.Dst = c.Src, c.Dst
	e.FlowID = c.FlowID
	e.Input, e.Packet = c.Input, c.Packet
	e.OK = true
	return e
}

// Batch is the batch being filled (for Slab.New).
func (c *Context) Batch() *Batch { return c.batch }

// Copy copies p into the batch arena (see Batch.Copy).
func (c *Context) Copy(p []byte) []byte { return c.batch.Copy(p) }

// Flush hands a non-empty batch to the sink and continues with an empty
// one: the same batch reset (Sink), or the one an AsyncSink gives back.
func (c *Context) Flush() {
	if c.batch.Len() == 0 {
		return
	}
	if a, ok := c.sink.(AsyncSink); ok {
		c.batch = a.Handoff(c.batch)
		return
	}
	if c.sink != nil {
		c.sink.Process(c.batch)
	}
	c.batch.Reset()
}
