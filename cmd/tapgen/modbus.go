package main

import "encoding/binary"

// Modbus/TCP encoding, written from the Modbus Application Protocol
// Specification V1.1b3 and the Modbus Messaging on TCP/IP Implementation
// Guide V1.0b. Every integer on the wire is big-endian. An ADU is the MBAP
// header (7 bytes) followed by the PDU (function code + data):
//
//	transaction id  2 bytes  chosen by the client, echoed by the server
//	protocol id     2 bytes  0 for Modbus
//	length          2 bytes  number of following bytes (unit id + PDU)
//	unit id         1 byte   the addressed device behind a gateway, or 0xFF
//	PDU             1..253 bytes
//
// The append functions below add one complete ADU to a byte slice and never
// allocate when the slice has room (maxADU bytes).

// Function codes used by the generator.
const (
	fcReadCoils              = 1
	fcReadDiscreteInputs     = 2
	fcReadHoldingRegisters   = 3
	fcReadInputRegisters     = 4
	fcWriteSingleCoil        = 5
	fcWriteSingleRegister    = 6
	fcDiagnostics            = 8
	fcWriteMultipleCoils     = 15
	fcWriteMultipleRegisters = 16
	fcReadWriteMultiple      = 23
	fcEncapsulatedInterface  = 43
)

// Exception codes (spec section 7).
const (
	excIllegalFunction    = 0x01
	excIllegalDataAddress = 0x02
	excIllegalDataValue   = 0x03
	excGatewayPath        = 0x0A // gateway path unavailable
	excGatewayTarget      = 0x0B // gateway target device failed to respond
)

// Diagnostics (FC 8) sub-functions.
const (
	diagReturnQueryData   = 0x0000
	diagRestartComms      = 0x0001
	diagForceListenOnly   = 0x0004
	meiReadDeviceID       = 0x0E // MEI type of FC 43 Read Device Identification
	readDevIDBasic        = 0x01 // read device id code: basic stream
	objVendorName         = 0x00
	objProductCode        = 0x01
	objMajorMinorRevision = 0x02
)

// Protocol limits (spec 6.1–6.17).
const (
	mbapLen       = 7
	maxPDU        = 253
	maxADU        = mbapLen + maxPDU // 260
	maxReadBits   = 2000
	maxReadRegs   = 125
	maxWriteCoils = 1968
	maxWriteRegs  = 123
	maxRWWrite    = 121
	coilOn        = 0xFF00
	coilOff       = 0x0000
)

// beginADU appends an MBAP header whose length field is filled in by endADU.
func beginADU(b []byte, tid uint16, unit uint8) []byte {
	return append(b,
		byte(tid>>8), byte(tid), // transaction id
		0x00, 0x00, // protocol id: Modbus
		0x00, 0x00, // length: set by endADU
		unit, // unit id
	)
}

// endADU sets the MBAP length of the ADU that starts at start.
func endADU(b []byte, start int) []byte {
	binary.BigEndian.PutUint16(b[start+4:], uint16(len(b)-start-6))
	return b
}

func appendU16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

// appendRequest2 appends a request whose PDU is fc + two 16-bit fields: read
// requests (address, quantity), FC 5/6 (address, value), FC 8 (sub-function,
// data).
func appendRequest2(b []byte, tid uint16, unit, fc uint8, a, v uint16) []byte {
	s := len(b)
	b = beginADU(b, tid, unit)
	b = append(b, fc)
	b = appendU16(b, a)
	b = appendU16(b, v)
	return endADU(b, s)
}

// appendWriteCoils appends a Write Multiple Coils (FC 15) request; bits holds
// ceil(qty/8) bytes, LSB first.
func appendWriteCoils(b []byte, tid uint16, unit uint8, addr, qty uint16, bits []byte) []byte {
	s := len(b)
	b = beginADU(b, tid, unit)
	b = append(b, fcWriteMultipleCoils)
	b = appendU16(b, addr)
	b = appendU16(b, qty)
	b = append(b, byte(len(bits)))
	b = append(b, bits...)
	return endADU(b, s)
}

// appendWriteRegs appends a Write Multiple Registers (FC 16) request.
func appendWriteRegs(b []byte, tid uint16, unit uint8, addr uint16, vals []uint16) []byte {
	s := len(b)
	b = beginADU(b, tid, unit)
	b = append(b, fcWriteMultipleRegisters)
	b = appendU16(b, addr)
	b = appendU16(b, uint16(len(vals)))
	b = append(b, byte(2*len(vals)))
	for _, v := range vals {
		b = appendU16(b, v)
	}
	return endADU(b, s)
}

// appendReadWriteRegs appends a Read/Write Multiple Registers (FC 23)
// request: the write is performed before the read.
func appendReadWriteRegs(b []byte, tid uint16, unit uint8, raddr, rqty, waddr uint16, vals []uint16) []byte {
	s := len(b)
	b = beginADU(b, tid, unit)
	b = append(b, fcReadWriteMultiple)
	b = appendU16(b, raddr)
	b = appendU16(b, rqty)
	b = appendU16(b, waddr)
	b = appendU16(b, uint16(len(vals)))
	b = append(b, byte(2*len(vals)))
	for _, v := range vals {
		b = appendU16(b, v)
	}
	return endADU(b, s)
}

// appendReadDeviceID appends a Read Device Identification request
// (FC 43 / MEI 14) for the given read code and first object id.
func appendReadDeviceID(b []byte, tid uint16, unit, code, object uint8) []byte {
	s := len(b)
	b = beginADU(b, tid, unit)
	b = append(b, fcEncapsulatedInterface, meiReadDeviceID, code, object)
	return endADU(b, s)
}

// appendException appends an exception response: fc with the high bit set
// and one exception code.
func appendException(b []byte, tid uint16, unit, fc, code uint8) []byte {
	s := len(b)
	b = beginADU(b, tid, unit)
	b = append(b, fc|0x80, code)
	return endADU(b, s)
}

// identity is the basic device identification (objects 0x00–0x02).
type identity struct {
	vendor, product, revision string
	conformity                byte // 0x01 basic stream, 0x81 plus individual access
}

// appendDeviceIDResponse appends the response to a basic-stream Read Device
// Identification: all three basic objects fit one response, so "more
// follows" is 0 and "next object id" is 0.
func appendDeviceIDResponse(b []byte, tid uint16, unit uint8, id *identity) []byte {
	s := len(b)
	b = beginADU(b, tid, unit)
	b = append(b,
		fcEncapsulatedInterface, meiReadDeviceID,
		readDevIDBasic, // read device id code
		id.conformity,  // conformity level
		0x00,           // more follows: no
		0x00,           // next object id
		3,              // number of objects
	)
	b = appendObject(b, objVendorName, id.vendor)
	b = appendObject(b, objProductCode, id.product)
	b = appendObject(b, objMajorMinorRevision, id.revision)
	return endADU(b, s)
}

func appendObject(b []byte, id uint8, v string) []byte {
	b = append(b, id, byte(len(v)))
	return append(b, v...)
}

// pduInfo is what the truth file says about one ADU.
type pduInfo struct {
	tid  uint16
	unit uint8
	fc   uint8 // without the exception bit
	exc  uint8 // exception code, 0 for normal PDUs
}

// infoOf reads the header fields of an ADU this program encoded.
func infoOf(adu []byte) pduInfo {
	in := pduInfo{
		tid:  binary.BigEndian.Uint16(adu[0:2]),
		unit: adu[6],
		fc:   adu[7] & 0x7F,
	}
	if adu[7]&0x80 != 0 {
		in.exc = adu[8]
	}
	return in
}
