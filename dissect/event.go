package dissect

import (
	"net/netip"
	"strconv"
)

// Proto identifies an application protocol.
type Proto uint8

// Protocols. The zero value is no protocol.
const (
	ProtoNone Proto = iota
	ProtoModbus
	numProtos
)

var protoNames = [numProtos]string{ProtoNone: "", ProtoModbus: "modbus"}

// String returns the protocol's name as written in JSON (`proto`).
func (p Proto) String() string {
	if p < numProtos {
		return protoNames[p]
	}
	return "proto" + strconv.Itoa(int(p))
}

// NumProtos is one more than the largest Proto, for arrays indexed by Proto.
const NumProtos = int(numProtos)

// Transport says what carried a PDU.
type Transport uint8

// Transports, as written in JSON (`transport`).
const (
	TransportNone Transport = iota
	TransportTCP
	TransportUDP
	TransportEth
	TransportRTU
)

func (t Transport) String() string {
	switch t {
	case TransportTCP:
		return "tcp"
	case TransportUDP:
		return "udp"
	case TransportEth:
		return "eth"
	case TransportRTU:
		return "rtu"
	}
	return ""
}

// Dir is the direction of a PDU in its conversation.
type Dir uint8

// Directions, as written in JSON (`dir`).
const (
	DirUnknown Dir = iota
	DirRequest
	DirResponse
	DirUnsolicited
)

func (d Dir) String() string {
	switch d {
	case DirRequest:
		return "request"
	case DirResponse:
		return "response"
	case DirUnsolicited:
		return "unsolicited"
	}
	return ""
}

// Op is the kind of operation a PDU performs, common to all protocols.
type Op uint8

// Operations, as written in JSON (`op`).
const (
	OpNone Op = iota
	OpRead
	OpWrite
	OpControl
	OpProgram
	OpDiagnostic
	OpDiscovery
	OpSession
	OpOther
)

func (o Op) String() string {
	switch o {
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpControl:
		return "control"
	case OpProgram:
		return "program"
	case OpDiagnostic:
		return "diagnostic"
	case OpDiscovery:
		return "discovery"
	case OpSession:
		return "session"
	case OpOther:
		return "other"
	}
	return ""
}

// EndpointKind says which fields of an Endpoint address it.
type EndpointKind uint8

// Endpoint kinds.
const (
	EndpointNone   EndpointKind = iota
	EndpointIP                  // Addr and Port
	EndpointMAC                 // MAC only (layer-2 protocols)
	EndpointSerial              // Serial and Unit (Modbus RTU)
)

// UnitMaster is the Unit of the master's end of a serial line.
const UnitMaster = -1

// Endpoint is one end of a PDU's conversation.
type Endpoint struct {
	Kind   EndpointKind
	Addr   netip.Addr
	Port   uint16
	MAC    [6]byte // the frame's MAC address, when HasMAC
	HasMAC bool
	Serial string // the serial port's configured name (never a path)
	Unit   int16  // RTU unit address, or UnitMaster
}

// AppendText appends the endpoint as BRIEF 3.1 writes addresses:
// 10.0.0.1:502, [fe80::1]:502, 00:1b:1b:02:e6:1f, serial:ttyS1/17. An IP
// endpoint without a port (a host, as alerts name it) is its address alone.
func (e Endpoint) AppendText(b []byte) []byte {
	switch e.Kind {
	case EndpointIP:
		if e.Port == 0 {
			return e.Addr.AppendTo(b)
		}
		return netip.AddrPortFrom(e.Addr, e.Port).AppendTo(b)
	case EndpointMAC:
		return AppendMAC(b, e.MAC)
	case EndpointSerial:
		b = append(b, "serial:"...)
		b = append(b, e.Serial...)
		b = append(b, '/')
		if e.Unit == UnitMaster {
			return append(b, "master"...)
		}
		return strconv.AppendInt(b, int64(e.Unit), 10)
	}
	return b
}

// String is AppendText as a string (allocates; not for the packet path).
func (e Endpoint) String() string { return string(e.AppendText(nil)) }

// AppendMAC appends m as six lower-case hex pairs separated by colons.
func AppendMAC(b []byte, m [6]byte) []byte {
	const hexdigits = "0123456789abcdef"
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexdigits[x>>4], hexdigits[x&0xf])
	}
	return b
}

// Detail is a protocol's details object, written in JSON under a key named
// after the protocol. Details live in the batch (see Slab) and are valid
// until the batch is reset.
type Detail interface {
	// AppendJSON appends the details as one JSON object, keys without a
	// value omitted.
	AppendJSON(b []byte) []byte
}

// Event is one application PDU (request or response) as seen by a dissector.
// Every byte slice an Event or its Detail holds is a copy in the batch's
// arena, never a view of the frame buffer, so detect can use it after the
// driver has reused the frame.
type Event struct {
	TS        int64 // packet time (ns since the Unix epoch) of the packet that completed the PDU
	Proto     Proto
	Transport Transport
	Dir       Dir
	Op        Op
	HasFunc   bool   // false for PDUs without a function code
	Func      uint32 // the protocol's own code (BRIEF 3.2)
	Name      string // snake_case name of Func (static string)
	OK        bool   // false for exceptions, errors and malformed PDUs
	Error     string // why !OK, snake_case (static string)
	Src, Dst  Endpoint
	FlowID    uint64 // the flow (or serial line) the PDU travelled on
	Input     int    // the input (file, interface, serial port) it came from
	Packet    uint64 // number of the completing frame within its input, from 1
	Detail    Detail // protocol details, nil when there are none
}
