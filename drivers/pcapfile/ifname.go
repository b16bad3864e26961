package pcapfile

// Interface names. A pcapng file names its interfaces (if_name); the serial
// tap's RTU captures keep each serial port's configured name there, so that
// `sensor read` writes the same serial:PORT/UNIT addresses as the live
// sensor. Frame.Input is the interface index for a Reader but the file
// index for a Multi, so the interface of the frame just returned is asked
// for here.

// InterfaceName is the name (pcapng if_name) of interface i of the current
// section, or "" for a pcap file, an interface without a name or an index
// out of range.
func (r *Reader) InterfaceName(i int) string {
	if r.ng == nil || i < 0 || i >= r.ng.NInterfaces() {
		return ""
	}
	intf, err := r.ng.Interface(i)
	if err != nil {
		return ""
	}
	return intf.Name
}

// Interface returns the pcapng interface index and name of the frame Next
// returned last: (0, "") for a pcap file, before the first frame and for an
// interface without a name. It does not allocate.
func (r *Reader) Interface() (index int, name string) {
	if r.ng == nil || r.returned == 0 {
		return 0, ""
	}
	// The frame's record is the last one popped from the guard's queue:
	// pop leaves it in place, and nothing is pushed until the next Next.
	q := &r.g.q
	if len(q.buf) == 0 {
		return 0, ""
	}
	p := q.buf[(q.head-1)&(len(q.buf)-1)]
	if p.record != r.returned {
		return 0, ""
	}
	return p.iface, r.InterfaceName(p.iface)
}

// Interface returns the pcapng interface index and name of the frame Next
// returned last, as Reader.Interface does for the file being read; (0, "")
// between files.
func (m *Multi) Interface() (index int, name string) {
	if m.cur == nil {
		return 0, ""
	}
	return m.cur.Interface()
}
