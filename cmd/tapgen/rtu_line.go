package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tapwire/tapwire/drivers/serial"
)

// The RS-485 line of `tapgen rtu`: a master polls slaves, written from
// Modbus over Serial Line V1.02 and the Modbus Application Protocol
// Specification V1.1b3, independently of Tapwire's framer and dissector.

// rtuConfig is what `tapgen rtu` generates.
type rtuConfig struct {
	seed       uint64
	port       string
	baud       int
	dataBits   int
	parity     byte // 'N', 'E', 'O'
	stopBits   int
	slaves     int // answering slaves, addresses 1..slaves
	period     time.Duration
	duration   time.Duration
	frames     int // stop after this many transmissions (0: -duration)
	backToBack bool
	exceptions float64 // fraction of responses that are exception 2
	noise      float64 // fraction of frames preceded by a burst of noise
	crcErrors  float64 // fraction of frames sent with a CRC error
	truncate   float64 // fraction of frames cut short
	start      time.Time
}

func defaultRTUConfig() rtuConfig {
	return rtuConfig{
		seed: 1, port: "ttyS1", baud: 19200, dataBits: 8, parity: 'E', stopBits: 1,
		slaves: 4, period: 500 * time.Millisecond, duration: 60 * time.Second,
		exceptions: 0.005,
		start:      time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC),
	}
}

// charBits is the bits a character takes: start, data, parity, stop.
func (c rtuConfig) charBits() int {
	n := 1 + c.dataBits + c.stopBits
	if c.parity != 'N' {
		n++
	}
	return n
}

// charNS is one character time in ns.
func (c rtuConfig) charNS() int64 { return int64(c.charBits()) * 1e9 / int64(c.baud) }

// t35NS is the silence between frames: 3.5 character times, 1.75 ms above
// 19200 baud (Modbus over Serial Line V1.02, 2.5.1.1).
func (c rtuConfig) t35NS() int64 {
	if c.baud > 19200 {
		return 1750e3
	}
	return int64(c.charBits()) * 7e9 / (2 * int64(c.baud))
}

// Transmission kinds, as the raw file names them, and the RTAC serial
// event type an RTU capture records them with.
const (
	txRequest = iota
	txResponse
	txCRCError
	txTruncated
	txNoise
)

var txKinds = [...]struct {
	name  string
	event byte
}{
	txRequest:   {"request", 0x03},   // DATA_TX_END: the master sent it
	txResponse:  {"response", 0x04},  // DATA_RX_END: a slave sent it
	txCRCError:  {"crc_error", 0x07}, // FRAMING_ERROR
	txTruncated: {"truncated", 0x05}, // CAPTURE_DATA_LOST
	txNoise:     {"noise", 0x08},     // PARITY_ERROR
}

// rtuTx is one transmission on the line.
type rtuTx struct {
	start int64 // ns since the epoch when its first byte starts on the wire
	data  []byte
	kind  int
}

// rtuStats summarises a generated line.
type rtuStats struct {
	frames, bytes                    int // transmissions (faults included) and their bytes
	requests, responses, exceptions  int // intact frames
	crcErrors, truncated, noiseBytes int // faults
	broadcasts, timeouts             int
	requestFuncs                     map[byte]int
}

// Function codes the TCP side of tapgen does not use.
const (
	fcReportServerID = 17
)

// rtuSlave is a slave device and its process image.
type rtuSlave struct {
	addr     byte
	id       identity
	polls    []rtuPoll
	setpoint map[uint16]uint16
	coils    map[uint16]bool
}

type rtuPoll struct {
	fc        byte
	addr, qty uint16
}

// rtuGen is the line model: a discrete sequence of transmissions.
type rtuGen struct {
	cfg    rtuConfig
	r      *rand.Rand // traffic
	faults *rand.Rand // faults, apart, so that faults do not change the traffic
	slaves []*rtuSlave
	ct     int64
	t35    int64
	now    int64 // when the line is free
	end    int64
	tx     []rtuTx
	st     rtuStats
}

func newRTUGen(cfg rtuConfig) *rtuGen {
	g := &rtuGen{
		cfg:    cfg,
		r:      rand.New(rand.NewPCG(cfg.seed, 0x7274752d6c696e65)),
		faults: rand.New(rand.NewPCG(cfg.seed, 0x6661756c7473)),
		ct:     cfg.charNS(),
		t35:    cfg.t35NS(),
		now:    cfg.start.UnixNano(),
	}
	g.st.requestFuncs = map[byte]int{}
	g.end = g.now + int64(cfg.duration)
	for i := 0; i < cfg.slaves; i++ {
		s := &rtuSlave{addr: byte(i + 1), id: slaveIdents[i%len(slaveIdents)],
			setpoint: map[uint16]uint16{}, coils: map[uint16]bool{}}
		// A poll table of 1–3 reads: meters' measurements (input
		// registers), status words, setpoints, coils.
		s.polls = append(s.polls, rtuPoll{fcReadHoldingRegisters, uint16(100 * (i + 1)), uint16(2 + i%8)})
		if i%2 == 0 {
			s.polls = append(s.polls, rtuPoll{fcReadInputRegisters, 3000, 4})
		}
		if i%3 == 1 {
			s.polls = append(s.polls, rtuPoll{fcReadCoils, 0, uint16(8 + 4*i)})
		}
		g.slaves = append(g.slaves, s)
	}
	return g
}

// done says whether the line has said enough.
func (g *rtuGen) done() bool {
	if g.cfg.frames > 0 {
		return len(g.tx) >= g.cfg.frames
	}
	return g.now >= g.end
}

// run generates the line: identification, then poll cycles.
func (g *rtuGen) run() {
	g.idle(20e6)
	for _, s := range g.slaves {
		g.exchange(s.addr, []byte{fcEncapsulatedInterface, meiReadDeviceID, readDevIDBasic, 0})
		g.exchange(s.addr, []byte{fcReportServerID})
	}
	for cycle := 0; !g.done(); cycle++ {
		cycleStart := g.now
		for _, s := range g.slaves {
			for _, p := range s.polls {
				g.exchange(s.addr, append([]byte{p.fc}, append(u16(p.addr), u16(p.qty)...)...))
			}
		}
		if cycle%10 == 9 {
			// A device that is gone: the master still asks, and waits.
			g.exchange(byte(g.cfg.slaves+10), []byte{fcReadHoldingRegisters, 0, 0, 0, 1})
		}
		switch x := g.r.IntN(100); {
		case x < 6:
			g.write(g.slaves[g.r.IntN(len(g.slaves))])
		case x < 7:
			// A broadcast: nobody answers.
			g.send(g.adu(0, append([]byte{fcWriteSingleRegister}, append(u16(1000), u16(uint16(100+g.r.IntN(50)))...)...)), txRequest)
			g.idle(g.t35 + g.between(5e6, 20e6)) // the slaves' processing
		case x < 8:
			s := g.slaves[g.r.IntN(len(g.slaves))]
			g.exchange(s.addr, append([]byte{fcDiagnostics}, append(u16(diagReturnQueryData), u16(uint16(g.r.IntN(65536)))...)...))
		}
		if !g.cfg.backToBack {
			g.now = max(g.now, cycleStart+int64(g.cfg.period))
		}
	}
	g.finish()
}

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func (g *rtuGen) between(lo, hi int64) int64 { return lo + g.r.Int64N(hi-lo+1) }

// idle lets the line be silent for d (not back to back).
func (g *rtuGen) idle(d int64) {
	if !g.cfg.backToBack {
		g.now += d
	}
}

// write sends one SCADA write to s: a setpoint, several, or a coil.
func (g *rtuGen) write(s *rtuSlave) {
	reg := uint16(1000 + g.r.IntN(10))
	v := uint16(100 + g.r.IntN(101))
	switch x := g.r.IntN(100); {
	case x < 50:
		g.exchange(s.addr, append([]byte{fcWriteSingleRegister}, append(u16(reg), u16(v)...)...))
	case x < 75:
		n := 1 + g.r.IntN(4)
		pdu := append([]byte{fcWriteMultipleRegisters}, append(u16(reg), u16(uint16(n))...)...)
		pdu = append(pdu, byte(2*n))
		for i := 0; i < n; i++ {
			pdu = append(pdu, u16(v+uint16(i))...)
		}
		g.exchange(s.addr, pdu)
	case x < 90:
		on := uint16(coilOff)
		if g.r.IntN(2) == 0 {
			on = coilOn
		}
		g.exchange(s.addr, append([]byte{fcWriteSingleCoil}, append(u16(uint16(100+g.r.IntN(16))), u16(on)...)...))
	default:
		n := 1 + g.r.IntN(12)
		pdu := append([]byte{fcWriteMultipleCoils}, append(u16(100), u16(uint16(n))...)...)
		pdu = append(pdu, byte((n+7)/8))
		for i := 0; i < (n+7)/8; i++ {
			pdu = append(pdu, byte(g.r.IntN(256)))
		}
		g.exchange(s.addr, pdu)
	}
}

// exchange sends a request to addr and, unless it is lost or nobody is
// there, the slave's response.
func (g *rtuGen) exchange(addr byte, pdu []byte) {
	req := g.adu(addr, pdu)
	if !g.send(req, txRequest) {
		g.idle(100e6) // the slave ignored it: the master's response timeout
		return
	}
	s := g.slave(addr)
	if s == nil {
		g.st.timeouts++
		g.idle(100e6)
		return
	}
	g.idle(g.t35 + g.between(1e6, 8e6)) // the slave's turnaround
	g.send(g.adu(addr, g.respond(s, pdu)), txResponse)
	g.idle(g.t35 + g.between(500e3, 3e6)) // the master's pause
}

func (g *rtuGen) slave(addr byte) *rtuSlave {
	for _, s := range g.slaves {
		if s.addr == addr {
			return s
		}
	}
	return nil
}

// respond is the slave's response PDU to a request PDU.
func (g *rtuGen) respond(s *rtuSlave, pdu []byte) []byte {
	fc := pdu[0]
	if g.r.Float64() < g.cfg.exceptions {
		return []byte{fc | 0x80, excIllegalDataAddress}
	}
	switch fc {
	case fcReadHoldingRegisters, fcReadInputRegisters:
		addr, qty := binary.BigEndian.Uint16(pdu[1:]), binary.BigEndian.Uint16(pdu[3:])
		out := []byte{fc, byte(2 * qty)}
		for i := uint16(0); i < qty; i++ {
			out = append(out, u16(s.register(fc, addr+i, g.now))...)
		}
		return out
	case fcReadCoils:
		addr, qty := binary.BigEndian.Uint16(pdu[1:]), binary.BigEndian.Uint16(pdu[3:])
		n := (int(qty) + 7) / 8
		out := []byte{fc, byte(n)}
		for i := 0; i < n; i++ {
			var b byte
			for j := 0; j < 8 && i*8+j < int(qty); j++ {
				if s.coil(addr + uint16(i*8+j)) {
					b |= 1 << j
				}
			}
			out = append(out, b)
		}
		return out
	case fcWriteSingleRegister:
		s.setpoint[binary.BigEndian.Uint16(pdu[1:])] = binary.BigEndian.Uint16(pdu[3:])
		return pdu // the echo
	case fcWriteSingleCoil:
		s.coils[binary.BigEndian.Uint16(pdu[1:])] = binary.BigEndian.Uint16(pdu[3:]) == coilOn
		return pdu
	case fcDiagnostics:
		return pdu
	case fcWriteMultipleRegisters:
		addr, qty := binary.BigEndian.Uint16(pdu[1:]), binary.BigEndian.Uint16(pdu[3:])
		for i := uint16(0); i < qty; i++ {
			s.setpoint[addr+i] = binary.BigEndian.Uint16(pdu[6+2*i:])
		}
		return pdu[:5]
	case fcWriteMultipleCoils:
		addr, qty := binary.BigEndian.Uint16(pdu[1:]), binary.BigEndian.Uint16(pdu[3:])
		for i := uint16(0); i < qty; i++ {
			s.coils[addr+i] = pdu[6+i/8]>>(i%8)&1 == 1
		}
		return pdu[:5]
	case fcReportServerID:
		id := []byte(s.id.product)
		out := []byte{fc, byte(len(id) + 2)}
		out = append(out, id...)
		return append(out, 0xFF, 0x01) // run indicator on, then one more byte
	case fcEncapsulatedInterface:
		out := []byte{fc, meiReadDeviceID, readDevIDBasic, s.id.conformity, 0, 0, 3}
		for i, v := range []string{s.id.vendor, s.id.product, s.id.revision} {
			out = append(out, byte(i), byte(len(v)))
			out = append(out, v...)
		}
		return out
	}
	return []byte{fc | 0x80, excIllegalFunction}
}

// register is a holding or input register: setpoints keep what was
// written; measurements drift slowly with time.
func (s *rtuSlave) register(fc byte, addr uint16, t int64) uint16 {
	if v, ok := s.setpoint[addr]; ok && fc == fcReadHoldingRegisters {
		return v
	}
	h := mix(uint64(s.addr)<<24 | uint64(fc)<<16 | uint64(addr))
	base := uint16(h % 4000)
	return base + uint16(triangle(t/1e6, 60_000+int64(h>>20%240_000), 50))
}

func (s *rtuSlave) coil(addr uint16) bool {
	if v, ok := s.coils[addr]; ok {
		return v
	}
	return mix(uint64(s.addr)<<16|uint64(addr))&1 == 1
}

// adu makes an RTU ADU: address, PDU, CRC low byte first.
func (g *rtuGen) adu(addr byte, pdu []byte) []byte {
	b := append([]byte{addr}, pdu...)
	c := rtuCRC(b)
	return append(b, byte(c), byte(c>>8))
}

// rtuCRC is CRC-16/MODBUS bit by bit (Modbus over Serial Line V1.02,
// 6.2.2): preset 0xFFFF, shift right, XOR 0xA001 when a 1 falls out.
func rtuCRC(b []byte) uint16 {
	c := uint16(0xFFFF)
	for _, x := range b {
		c ^= uint16(x)
		for range 8 {
			lsb := c & 1
			c >>= 1
			if lsb != 0 {
				c ^= 0xA001
			}
		}
	}
	return c
}

// send puts a frame on the line, after noise and with a fault as the
// fault rates say; it reports whether the frame went out intact.
func (g *rtuGen) send(adu []byte, kind int) bool {
	f := g.faults
	if g.cfg.noise > 0 && f.Float64() < g.cfg.noise {
		// A burst of 1–4 bytes in the silence before the frame: a
		// line break reads as 0x00, other glitches as high bytes.
		n := 1 + f.IntN(4)
		b := make([]byte, n)
		for i := range b {
			if f.IntN(3) == 0 {
				b[i] = 0x00
			} else {
				b[i] = 0xF8 + byte(f.IntN(8))
			}
		}
		g.put(b, txNoise)
		g.idle(g.t35 + f.Int64N(1e6))
	}
	switch {
	case g.cfg.crcErrors > 0 && f.Float64() < g.cfg.crcErrors:
		b := append([]byte(nil), adu...)
		b[len(b)-1-f.IntN(2)] ^= 1 << f.IntN(8)
		g.put(b, txCRCError)
		return false
	case g.cfg.truncate > 0 && f.Float64() < g.cfg.truncate:
		g.put(append([]byte(nil), adu[:2+f.IntN(len(adu)-3)]...), txTruncated)
		return false
	}
	g.put(adu, kind)
	return true
}

// put transmits b now: one character time per byte.
func (g *rtuGen) put(b []byte, kind int) {
	g.tx = append(g.tx, rtuTx{start: g.now, data: b, kind: kind})
	g.now += int64(len(b)) * g.ct
}

// finish ends the line at -frames transmissions and counts what it holds.
func (g *rtuGen) finish() {
	if g.cfg.frames > 0 && len(g.tx) > g.cfg.frames {
		g.tx = g.tx[:g.cfg.frames]
	}
	st := &g.st
	for _, tx := range g.tx {
		st.frames++
		st.bytes += len(tx.data)
		switch tx.kind {
		case txRequest:
			st.requests++
			st.requestFuncs[tx.data[1]]++
			if tx.data[0] == 0 {
				st.broadcasts++
			}
		case txResponse:
			st.responses++
			if tx.data[1]&0x80 != 0 {
				st.exceptions++
			}
		case txCRCError:
			st.crcErrors++
		case txTruncated:
			st.truncated++
		case txNoise:
			st.noiseBytes += len(tx.data)
		}
	}
}

// end is when tx's last byte has arrived.
func (g *rtuGen) endOf(tx *rtuTx) int64 { return tx.start + int64(len(tx.data))*g.ct }

// writeCapture writes the line as the serial tap records it: an RTU
// capture (drivers/serial), one record per transmission — the RTAC serial
// header, built here, and the bytes — at the time its last byte arrives.
func (g *rtuGen) writeCapture(w io.Writer) error {
	c, err := serial.NewCapture(w, []serial.Config{g.port()})
	if err != nil {
		return err
	}
	rec := make([]byte, 0, 12+256)
	for i := range g.tx {
		tx := &g.tx[i]
		end := g.endOf(tx)
		rec = binary.BigEndian.AppendUint32(rec[:0], uint32(end/1e9))
		rec = binary.BigEndian.AppendUint32(rec, uint32(end%1e9/1e3))
		rec = append(rec, txKinds[tx.kind].event, 0, 0, 0)
		rec = append(rec, tx.data...)
		if err := c.WriteRecord(0, end, rec); err != nil {
			return err
		}
	}
	return c.Flush()
}

// port is the line as drivers/serial configures it.
func (g *rtuGen) port() serial.Config {
	return serial.Config{Device: "/dev/" + g.cfg.port, Name: g.cfg.port, Baud: g.cfg.baud,
		DataBits: g.cfg.dataBits, Parity: serial.Parity(g.cfg.parity), StopBits: g.cfg.stopBits}
}

// writeRaw writes the raw line for replay: a header, then one line per
// transmission: when its first byte starts on the wire (ns since the
// epoch), its bytes in hex, its kind. Each byte takes one character time
// and the bytes of a line follow each other without a pause.
func (g *rtuGen) writeRaw(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# tapgen rtu raw line: port %s, %d baud %d%c%d, character time %d ns, silence between frames %d ns\n",
		g.cfg.port, g.cfg.baud, g.cfg.dataBits, g.cfg.parity, g.cfg.stopBits, g.ct, g.t35)
	fmt.Fprintf(bw, "# start_ns bytes kind\n")
	var b []byte
	for _, tx := range g.tx {
		b = strconv.AppendInt(b[:0], tx.start, 10)
		b = append(b, ' ')
		b = hex.AppendEncode(b, tx.data)
		b = append(b, ' ')
		b = append(b, txKinds[tx.kind].name...)
		b = append(b, '\n')
		bw.Write(b)
	}
	return bw.Flush()
}
