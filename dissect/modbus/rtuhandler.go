package modbus

import (
	"strconv"

	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/drivers"
)

// rtuFlowBase numbers serial lines apart from the flow table's flows (which
// count from 1): line i is rtuFlowBase+i.
const rtuFlowBase = 1 << 62

// RTUHandler turns RTU capture frames (drivers.LinkRTACSerial, one ADU or
// skipped piece per frame, see AppendRTURecord) into Modbus events, live
// from the serial tap and from capture files alike. Register it with
// dissect.Engine.HandleLink(drivers.LinkRTACSerial, h).
//
// Each ADU record makes one event, decoded by DecodePDU as Modbus/TCP's
// PDUs are: Transport rtu, Dir request for records the master sent and
// response for the others, Src and Dst serial endpoints named after the
// port — serial:PORT/master for the master, serial:PORT/UNIT for the slave
// (UNIT 0 for a broadcast) — and details without a transaction id.
// Requests and responses pair by port, address and function code (key
// address<<8 | function code without the exception bit). Each port is one
// flow (FlowID 1<<62 + the port's number in order of appearance), with its
// own pairing table. An ADU record whose CRC fails, or whose address is
// above 247, makes no event and is counted as Invalid; skipped pieces are
// counted by kind.
//
// A frame's port is named by the namer when one is set (sensor read: the
// capture's interface name), else by the names given to NewRTUHandler,
// indexed by Frame.Input (the serial tap's port number), else "portN" for
// input N. The handler has its own Dissector; it allocates only when a
// port first appears.
type RTUHandler struct {
	d     *Dissector
	names []string
	namer func(f *drivers.Frame) string
	ports []rtuPort
	last  int // index of the port of the last frame
	stats RTUHandlerStats
}

type rtuPort struct {
	name   string
	flowID uint64
	master dissect.Endpoint
}

// RTUHandlerStats counts the records an RTUHandler saw. They only grow.
type RTUHandlerStats struct {
	Records   uint64 // frames handed to the handler
	ADUs      uint64 // ADU records decoded into events
	CRCErrors uint64 // skipped pieces of each kind
	Truncated uint64
	Noise     uint64 // noise pieces
	// NoiseBytes counts the bytes of the noise pieces.
	NoiseBytes uint64
	// Invalid counts records that are not what the format says: shorter
	// than the header, of an event type without serial data, or an ADU
	// whose CRC fails or whose address is above 247.
	Invalid uint64
	// DecodeErrors counts ADUs whose PDU was malformed or truncated (the
	// event has OK false).
	DecodeErrors uint64
}

var _ dissect.LinkHandler = (*RTUHandler)(nil)

// NewRTUHandler returns a handler whose ports are named ports[Frame.Input]
// (entries for inputs that are not serial ports may be empty).
func NewRTUHandler(ports []string) *RTUHandler {
	return &RTUHandler{d: New(), names: append([]string(nil), ports...), last: -1}
}

// SetPortNamer makes fn name the port of each frame; an empty name falls
// back to the names given to NewRTUHandler. sensor read passes the
// capture's interface name:
//
//	h.SetPortNamer(func(*drivers.Frame) string { _, name := multi.Interface(); return name })
func (h *RTUHandler) SetPortNamer(fn func(f *drivers.Frame) string) { h.namer = fn }

// Stats returns the record counters.
func (h *RTUHandler) Stats() RTUHandlerStats { return h.stats }

// Dissector is the Modbus dissector the handler decodes with (for its
// Stats).
func (h *RTUHandler) Dissector() *Dissector { return h.d }

// Ports lists the names of the ports seen so far, by flow number.
func (h *RTUHandler) Ports() []string {
	out := make([]string, len(h.ports))
	for i, p := range h.ports {
		out[i] = p.name
	}
	return out
}

// Frame decodes one RTU capture frame and writes its event through c.
func (h *RTUHandler) Frame(c *dissect.Context, f *drivers.Frame, packet uint64) {
	h.stats.Records++
	kind, dir, data, ok := ParseRTURecord(f.Data)
	if !ok {
		h.stats.Invalid++
		return
	}
	switch kind {
	case RTUCRCError:
		h.stats.CRCErrors++
		return
	case RTUTruncated:
		h.stats.Truncated++
		return
	case RTUNoise:
		h.stats.Noise++
		h.stats.NoiseBytes += uint64(len(data))
		return
	}
	if len(data) < RTUMinADU || data[0] > RTUMaxAddress || !crcOK(data) {
		h.stats.Invalid++
		return
	}
	pi := h.port(f)
	p := &h.ports[pi]
	unit := data[0]
	pdu := data[1 : len(data)-2]
	slave := dissect.Endpoint{Kind: dissect.EndpointSerial, Serial: p.name, Unit: int16(unit)}

	c.SetProto(dissect.ProtoModbus)
	c.TS = f.TS
	c.Transport = dissect.TransportRTU
	c.Dir = dir
	if dir == dissect.DirRequest {
		c.Src, c.Dst = p.master, slave
	} else {
		c.Src, c.Dst = slave, p.master
	}
	c.FlowID, c.FlowSlot = p.flowID, pi
	c.Input, c.Packet = f.Input, packet
	h.stats.ADUs++
	key := uint32(unit)<<8 | uint32(pdu[0]&^exceptionBit)
	if err := h.d.DecodePDU(c, unit, key, false, 0, pdu); err != nil {
		h.stats.DecodeErrors++
	}
}

// port returns the index of the frame's port, adding it when new.
func (h *RTUHandler) port(f *drivers.Frame) int {
	name := ""
	if h.namer != nil {
		name = h.namer(f)
	}
	if name == "" && f.Input >= 0 && f.Input < len(h.names) {
		name = h.names[f.Input]
	}
	if name == "" {
		name = h.fallbackName(f.Input)
	}
	if h.last >= 0 && h.ports[h.last].name == name {
		return h.last
	}
	for i := range h.ports {
		if h.ports[i].name == name {
			h.last = i
			return i
		}
	}
	i := len(h.ports)
	h.ports = append(h.ports, rtuPort{
		name:   name,
		flowID: rtuFlowBase + uint64(i),
		master: dissect.Endpoint{Kind: dissect.EndpointSerial, Serial: name, Unit: dissect.UnitMaster},
	})
	h.last = i
	return i
}

// fallbackName is "portN" for input n, made once per input.
func (h *RTUHandler) fallbackName(n int) string {
	if n < 0 {
		n = 0
	}
	for len(h.names) <= n {
		h.names = append(h.names, "")
	}
	if h.names[n] == "" {
		h.names[n] = "port" + strconv.Itoa(n)
	}
	return h.names[n]
}
