package main

import "encoding/binary"

// The PLC side of the model: a Modbus server that answers the requests it
// receives from a process image that changes with packet time.

// mix is a stateless 64-bit hash (a splitmix64 finaliser); the process image
// is a function of (plant, address, time), so it needs no state per register.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func regKey(unit uint8, addr uint16) uint32 { return uint32(unit)<<16 | uint32(addr) }

// triangle returns a wave in [-amp, amp] with the given period, both in
// milliseconds, at time ms.
func triangle(ms, period, amp int64) int64 {
	ph := ms % period
	half := period / 2
	if ph < half {
		return -amp + 2*amp*ph/half
	}
	return amp - 2*amp*(ph-half)/(period-half)
}

// register returns register addr of unit (table 3 holding, 4 input) at time
// t (µs). Each address has a fixed kind: slowly varying analog values,
// counters, status words, constants; holding registers 1000..1099 are
// setpoints that keep the last value written.
func (g *gen) register(p *plc, table, unit uint8, addr uint16, t int64) uint16 {
	if table == fcReadHoldingRegisters && len(p.regs) > 0 {
		if v, ok := p.regs[regKey(unit, addr)]; ok {
			return v
		}
	}
	h := mix(uint64(p.idx)<<32 | uint64(table)<<24 | uint64(unit)<<16 | uint64(addr))
	if table == fcReadHoldingRegisters && addr >= setpointBase && addr < setpointBase+setpointLen {
		return setpointDefault(h)
	}
	ms := t / 1000
	switch h % 8 {
	case 0, 1, 2: // analog process value with a little noise
		base := int64(500 + h>>8%20000)
		amp := int64(20 + h>>24%400)
		period := int64(60_000 + h>>32%540_000)
		noise := int64(mix(g.seed^h^uint64(ms/250))%5) - 2
		return uint16(base + triangle(ms+int64(h>>40%600_000), period, amp) + noise)
	case 3: // counter, 1..20 per second
		rate := int64(1 + h>>8%20)
		return uint16(int64(h>>16) + ms*rate/1000)
	case 4: // status word: fixed bits and one that toggles slowly
		toggle := uint16(ms/int64(30_000+h>>16%90_000)) & 1
		return uint16(h>>32)&0x00F7 | toggle<<3
	case 5:
		return 0
	default: // configuration constant
		return uint16(h >> 20 % 1000)
	}
}

func setpointDefault(h uint64) uint16 { return uint16(100 + h>>8%900) }

// bit returns coil (table 1) or discrete input (table 2) addr at time t.
func (g *gen) bit(p *plc, table, unit uint8, addr uint16, t int64) bool {
	if table == fcReadCoils && len(p.coils) > 0 {
		if v, ok := p.coils[regKey(unit, addr)]; ok {
			return v
		}
	}
	h := mix(uint64(p.idx)<<32 | uint64(table)<<24 | uint64(unit)<<16 | uint64(addr) | 1<<60)
	if h%4 == 0 { // a slowly changing state (pump running, valve open)
		return (t/1000/int64(20_000+h>>8%180_000)+int64(h>>40))&1 == 1
	}
	return h>>8&1 == 1
}

// respond appends the PLC's response to req at time t. exc, when not 0, is a
// rare exception the caller decided to return instead (a register block that
// is briefly unavailable).
func (g *gen) respond(b []byte, p *plc, req []byte, t int64, exc uint8) []byte {
	tid := binary.BigEndian.Uint16(req[0:2])
	unit, fc := req[6], req[7]
	d := req[8:]
	if !p.serves(unit) {
		code := uint8(excGatewayPath)
		if unit >= 1 && unit <= gatewayRouted {
			code = excGatewayTarget
		}
		return appendException(b, tid, unit, fc, code)
	}
	if exc != 0 {
		return appendException(b, tid, unit, fc, exc)
	}
	s := len(b)
	switch fc {
	case fcReadCoils, fcReadDiscreteInputs:
		addr, qty := binary.BigEndian.Uint16(d), binary.BigEndian.Uint16(d[2:])
		n := (int(qty) + 7) / 8
		b = beginADU(b, tid, unit)
		b = append(b, fc, byte(n))
		for i := 0; i < n; i++ {
			var v byte
			for j := 0; j < 8 && i*8+j < int(qty); j++ {
				if g.bit(p, fc, unit, addr+uint16(i*8+j), t) {
					v |= 1 << j
				}
			}
			b = append(b, v)
		}
	case fcReadHoldingRegisters, fcReadInputRegisters:
		addr, qty := binary.BigEndian.Uint16(d), binary.BigEndian.Uint16(d[2:])
		b = beginADU(b, tid, unit)
		b = append(b, fc, byte(2*qty))
		for i := uint16(0); i < qty; i++ {
			b = appendU16(b, g.register(p, fc, unit, addr+i, t))
		}
	case fcWriteSingleCoil:
		p.setCoil(unit, binary.BigEndian.Uint16(d), binary.BigEndian.Uint16(d[2:]) == coilOn)
		b = append(b, req[:12]...) // the normal response echoes the request
		return b
	case fcWriteSingleRegister, fcDiagnostics:
		if fc == fcWriteSingleRegister {
			p.setReg(unit, binary.BigEndian.Uint16(d), binary.BigEndian.Uint16(d[2:]))
		}
		b = append(b, req[:12]...)
		return b
	case fcWriteMultipleCoils:
		addr, qty := binary.BigEndian.Uint16(d), binary.BigEndian.Uint16(d[2:])
		bits := d[5:]
		for i := uint16(0); i < qty; i++ {
			p.setCoil(unit, addr+i, bits[i/8]>>(i%8)&1 == 1)
		}
		b = beginADU(b, tid, unit)
		b = append(b, fc)
		b = append(b, d[:4]...)
	case fcWriteMultipleRegisters:
		addr, qty := binary.BigEndian.Uint16(d), binary.BigEndian.Uint16(d[2:])
		for i := uint16(0); i < qty; i++ {
			p.setReg(unit, addr+i, binary.BigEndian.Uint16(d[5+2*i:]))
		}
		b = beginADU(b, tid, unit)
		b = append(b, fc)
		b = append(b, d[:4]...)
	case fcReadWriteMultiple:
		raddr, rqty := binary.BigEndian.Uint16(d), binary.BigEndian.Uint16(d[2:])
		waddr, wqty := binary.BigEndian.Uint16(d[4:]), binary.BigEndian.Uint16(d[6:])
		for i := uint16(0); i < wqty; i++ {
			p.setReg(unit, waddr+i, binary.BigEndian.Uint16(d[9+2*i:]))
		}
		b = beginADU(b, tid, unit)
		b = append(b, fc, byte(2*rqty))
		for i := uint16(0); i < rqty; i++ {
			b = appendU16(b, g.register(p, fcReadHoldingRegisters, unit, raddr+i, t))
		}
	case fcEncapsulatedInterface:
		if len(d) >= 1 && d[0] == meiReadDeviceID {
			return appendDeviceIDResponse(b, tid, unit, p.identityOf(unit))
		}
		return appendException(b, tid, unit, fc, excIllegalFunction)
	default:
		return appendException(b, tid, unit, fc, excIllegalFunction)
	}
	return endADU(b, s)
}

func (p *plc) setReg(unit uint8, addr, v uint16) {
	if p.regs == nil {
		p.regs = make(map[uint32]uint16)
	}
	p.regs[regKey(unit, addr)] = v
}

func (p *plc) setCoil(unit uint8, addr uint16, v bool) {
	if p.coils == nil {
		p.coils = make(map[uint32]bool)
	}
	p.coils[regKey(unit, addr)] = v
}
