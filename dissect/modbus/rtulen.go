package modbus

// RTU length rules: the length of the ADU (address, PDU, CRC) that starts
// a byte stream, from its function code and, where the format has one, its
// byte count, written from the Modbus Application Protocol Specification
// V1.1b3 (section 6) and Modbus over Serial Line V1.02 (2.5.1).

// RTU ADU limits (Modbus over Serial Line V1.02, 2.5.1.1 and 2.2).
const (
	RTUMinADU     = 4   // address, function code, CRC
	RTUMaxADU     = 256 // address, 253-byte PDU, CRC
	RTUMaxAddress = 247 // unit addresses 1..247; 0 is broadcast, 248..255 reserved
)

// Results of rtuLen besides a length.
const (
	lenImpossible = 0  // no ADU of this direction starts so
	lenNeedMore   = -1 // the bytes stop before the field that gives the length
	lenVariable   = -2 // no length rule: the CRC must find the end
)

// rtuLen returns the length of the ADU at the start of b (at least 2
// bytes: address, function code) read as a response when resp, else as a
// request: a length, lenNeedMore, lenVariable (user-defined and unknown
// function codes, diagnostics 0 "return query data", MEI types other than
// 14) or lenImpossible, when a field that gives the length is out of the
// spec's range, the address is 0 for a response or the function code has
// the exception bit in a request.
func rtuLen(b []byte, resp bool) int {
	addr, fc := b[0], b[1]
	if fc&exceptionBit != 0 {
		if !resp || addr == 0 || fc == exceptionBit {
			return lenImpossible
		}
		return 5 // address, function code, exception code, CRC
	}
	if resp && addr == 0 {
		return lenImpossible // nobody answers a broadcast
	}
	switch fc {
	case 0:
		return lenImpossible
	case fcReadCoils, fcReadDiscreteInputs, fcReadHoldingRegisters, fcReadInputRegisters:
		if !resp {
			return 8 // address, quantity
		}
		return readRespLen(b, fc >= fcReadHoldingRegisters)
	case fcWriteSingleCoil, fcWriteSingleRegister:
		return 8 // address, value (the response echoes)
	case fcReadExceptionStatus:
		if resp {
			return 5 // status byte
		}
		return 4
	case fcDiagnostics:
		// sub-function and data, echoed; only "return query data" (0)
		// carries data of any length, the others one word.
		if len(b) < 4 {
			return lenNeedMore
		}
		if be16(b[2:]) == 0 {
			return lenVariable
		}
		return 8
	case fcGetCommEventCounter:
		if resp {
			return 8 // status, event count
		}
		return 4
	case fcGetCommEventLog:
		if !resp {
			return 4
		}
		return byteCountLen(b, 6, 6+maxEventLog)
	case fcWriteMultipleCoils, fcWriteMultipleRegisters:
		if resp {
			return 8 // address, quantity
		}
		// address, quantity, byte count, values
		if len(b) < 7 {
			return lenNeedMore
		}
		q, bc := int(be16(b[4:])), int(b[6])
		want, limit := 2*q, maxWriteRegisters
		if fc == fcWriteMultipleCoils {
			want, limit = (q+7)/8, maxWriteBits
		}
		if q < 1 || q > limit || bc != want {
			return lenImpossible
		}
		return 9 + bc
	case fcReportServerID:
		if !resp {
			return 4
		}
		return byteCountLen(b, 1, 251)
	case fcReadFileRecord:
		if !resp {
			if len(b) < 3 {
				return lenNeedMore
			}
			if b[2]%7 != 0 {
				return lenImpossible
			}
			return byteCountLen(b, 7, 0xf5)
		}
		return byteCountLen(b, 2, 0xf5)
	case fcWriteFileRecord:
		return byteCountLen(b, 9, 0xfb)
	case fcMaskWriteRegister:
		return 10 // address, AND mask, OR mask (the response echoes)
	case fcReadWriteMultipleRegisters:
		if resp {
			return readRespLen(b, true)
		}
		// read address, read quantity, write address, write quantity,
		// byte count, values
		if len(b) < 11 {
			return lenNeedMore
		}
		q, bc := int(be16(b[8:])), int(b[10])
		if q < 1 || q > maxRWWrite || bc != 2*q {
			return lenImpossible
		}
		return 13 + bc
	case fcReadFIFOQueue:
		if !resp {
			return 6 // FIFO pointer address
		}
		// byte count (2 bytes) over the FIFO count and values
		if len(b) < 4 {
			return lenNeedMore
		}
		bc := int(be16(b[2:]))
		if bc < 2 || bc > 2+2*maxFIFOCount {
			return lenImpossible
		}
		return 6 + bc
	case fcEncapsulatedInterface:
		if len(b) < 3 {
			return lenNeedMore
		}
		if b[2] != meiReadDeviceIdentifier {
			return lenVariable
		}
		if !resp {
			return 7 // MEI type, read device id code, object id
		}
		return deviceIDRespLen(b)
	}
	return lenVariable
}

// readRespLen is the length of a read response (functions 1–4, 23): byte
// count, values.
func readRespLen(b []byte, regs bool) int {
	if len(b) < 3 {
		return lenNeedMore
	}
	bc := int(b[2])
	if bc == 0 || bc > 250 || regs && bc%2 != 0 {
		return lenImpossible
	}
	return 5 + bc
}

// byteCountLen is the length of an ADU whose third byte counts the bytes
// that follow it, with the byte count in lo..hi.
func byteCountLen(b []byte, lo, hi int) int {
	if len(b) < 3 {
		return lenNeedMore
	}
	bc := int(b[2])
	if bc < lo || bc > hi {
		return lenImpossible
	}
	return 5 + bc
}

// deviceIDRespLen is the length of a 43/14 response: MEI type, read device
// id code, conformity level, more follows, next object id, number of
// objects, then that many objects of id, length and value.
func deviceIDRespLen(b []byte) int {
	if len(b) < 8 {
		return lenNeedMore
	}
	n, off := int(b[7]), 8
	for range n {
		if off+2 > len(b) {
			return lenNeedMore
		}
		off += 2 + int(b[off+1])
		if off+2 > RTUMaxADU {
			return lenImpossible
		}
	}
	return off + 2
}
