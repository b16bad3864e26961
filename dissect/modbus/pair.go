package modbus

// Request/response pairing. Each flow that carries Modbus gets a small table
// of outstanding requests, keyed by the caller's pairing key (the MBAP
// transaction id on TCP). The tables live in d.tables, found through d.slots,
// which is indexed by Context.FlowSlot; a table is cleared when its slot
// serves a new FlowID. Memory stays bounded: pairsPerFlow entries per table,
// the oldest overwritten when the table is full, and at most one table per
// flow slot that has ever carried Modbus.

const (
	pairsPerFlow = 8       // outstanding requests remembered per flow
	maxFlowSlots = 1 << 20 // flow slots above this are decoded without pairing
)

// pending is an outstanding request: what its response is checked against
// and completed with.
type pending struct {
	key   uint32
	age   uint32 // the table's clock when stored; 0 for a free entry
	has   field  // which of the fields below were in the request
	fc    uint8
	mei   uint8
	sub   uint16
	addr  uint16
	qty   uint16
	raddr uint16 // function 23: read address and quantity
	rqty  uint16
	waddr uint16 // function 23: write address and quantity
	wqty  uint16
}

type flowPairs struct {
	flowID uint64
	clock  uint32
	p      [pairsPerFlow]pending
}

// pairFields are the request fields a response inherits when it lacks them.
const pairFields = hasAddress | hasQuantity | hasReadAddress | hasReadQuantity |
	hasWriteAddress | hasWriteQuantity | hasSubFunction | hasMEIType

// table returns the pairing table of the context's flow, or nil when the
// flow slot is out of range.
func (d *Dissector) table(slot int, flowID uint64) *flowPairs {
	if slot < 0 || slot >= maxFlowSlots {
		return nil
	}
	if slot >= len(d.slots) {
		n := max(slot+1, 2*len(d.slots), 64)
		n = min(n, maxFlowSlots)
		slots := make([]uint32, n)
		copy(slots, d.slots)
		d.slots = slots
	}
	i := d.slots[slot]
	if i == 0 {
		d.tables = append(d.tables, flowPairs{flowID: flowID})
		i = uint32(len(d.tables))
		d.slots[slot] = i
	}
	t := &d.tables[i-1]
	if t.flowID != flowID {
		*t = flowPairs{flowID: flowID}
	}
	return t
}

// put remembers request p, replacing an outstanding request with the same
// key, else a free entry, else the oldest.
func (t *flowPairs) put(p pending) {
	t.clock++
	if t.clock == 0 {
		t.clock = 1
	}
	p.age = t.clock
	v := -1
	for i := range t.p {
		if t.p[i].age != 0 && t.p[i].key == p.key {
			v = i
			break
		}
	}
	if v < 0 {
		v = 0
		for i := range t.p {
			if t.p[i].age < t.p[v].age {
				v = i
			}
		}
	}
	t.p[v] = p
}

// take removes and returns the outstanding request with key and function
// code fc.
func (t *flowPairs) take(key uint32, fc uint8) (pending, bool) {
	for i := range t.p {
		e := &t.p[i]
		if e.age != 0 && e.key == key && e.fc == fc {
			p := *e
			*e = pending{}
			return p, true
		}
	}
	return pending{}, false
}

// request builds the pending entry of a request from its details.
func request(key uint32, fc uint8, det *Details) pending {
	return pending{
		key: key, fc: fc, has: det.has & pairFields,
		mei: det.meiType, sub: det.subFunction,
		addr: det.address, qty: det.quantity,
		raddr: det.readAddress, rqty: det.readQuantity,
		waddr: det.writeAddress, wqty: det.writeQuantity,
	}
}

// inherit copies into a response's details the request fields it lacks.
func (det *Details) inherit(p pending) {
	add := p.has &^ det.has
	if add&hasAddress != 0 {
		det.address = p.addr
	}
	if add&hasQuantity != 0 {
		det.quantity = p.qty
	}
	if add&hasReadAddress != 0 {
		det.readAddress = p.raddr
	}
	if add&hasReadQuantity != 0 {
		det.readQuantity = p.rqty
	}
	if add&hasWriteAddress != 0 {
		det.writeAddress = p.waddr
	}
	if add&hasWriteQuantity != 0 {
		det.writeQuantity = p.wqty
	}
	if add&hasSubFunction != 0 {
		det.subFunction = p.sub
	}
	if add&hasMEIType != 0 {
		det.meiType = p.mei
	}
	det.has |= add
}

// checkPaired checks a well-formed read response against its request: the
// byte count must cover exactly the quantity asked for.
func checkPaired(fc uint8, det *Details, p pending) fault {
	bc := int(det.byteCount)
	switch fc {
	case fcReadCoils, fcReadDiscreteInputs:
		if p.has&hasQuantity != 0 {
			return mismatch(faultByteCount, bc, (int(p.qty)+7)/8)
		}
	case fcReadHoldingRegisters, fcReadInputRegisters:
		if p.has&hasQuantity != 0 {
			return mismatch(faultByteCount, bc, 2*int(p.qty))
		}
	case fcReadWriteMultipleRegisters:
		if p.has&hasReadQuantity != 0 {
			return mismatch(faultByteCount, bc, 2*int(p.rqty))
		}
	}
	return fault{}
}
