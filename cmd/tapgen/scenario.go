package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"
)

// config is one run of `tapgen modbus`.
type config struct {
	seed       uint64
	masters    int
	plcs       int
	duration   time.Duration // 0 when packets is set
	packets    int64         // stop after exactly this many packets; 0 for duration
	period     time.Duration
	jitter     float64
	start      time.Time
	serverPort uint16
	attacks    []attackKind
	impair     []impairKind
	impairRate float64
}

func defaultConfig() config {
	return config{
		seed:       1,
		masters:    2,
		plcs:       3,
		duration:   60 * time.Second,
		period:     500 * time.Millisecond,
		jitter:     0.05,
		start:      time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC),
		serverPort: 502,
		impairRate: 0.1,
	}
}

// Timing of the model, in microseconds.
const (
	us = int64(1)
	ms = 1000 * us
	s  = 1000 * ms

	openSpread     = 300 * ms // connections open within this after -start
	linuxDelAck    = 40 * ms  // delayed-ACK timer of Linux clients
	windowsDelAck  = 200 * ms // and of Windows clients
	listenOnlyTime = 10 * s   // how long a PLC stays silent after FC 8/4
	cycleMargin    = 100 * ms // no poll cycle starts this close to the end
	closeSpread    = 10 * ms  // connections close within this, 3 ms before the end
	rareException  = 400      // one read in this many gets exception 2
	writeChance    = 10       // percent of SCADA cycles that write
	maxBurst       = 3        // pipelined requests per cycle
)

// Direction of a segment within its connection.
const (
	toServer = 0
	toClient = 1
)

// conn is one TCP connection between a client (master, attacker) and a PLC.
type conn struct {
	idx          int32
	cli, srv     int // indexes into gen.hosts
	cport, sport uint16
	cliAddr      string // "10.10.1.1:40001", for the truth file
	srvAddr      string
	nxt          [2]uint32 // next sequence number per direction
	ipID         [2]uint16 // IP ids of hosts that count per connection
	lastT        int64     // time of this connection's latest packet
	rng          *rand.Rand

	plc    *plc
	master *master // nil for attack sessions
	script *script // nil for masters
	table  []pollItem
	next   int    // next poll-table entry
	tid    uint16 // last transaction id used

	outbox   aduQueue // requests decided, not yet sent
	pending  aduQueue // requests the server will answer, due at t
	lastResp int64    // latest scheduled response time

	cliUnacked  int
	cliAckGen   uint32
	srvAckGen   uint32
	srvAckArmed bool
	opened      bool // SYN sent
	established bool
	closeWanted bool
	closing     bool

	// Written by the output stage, which runs behind the model.
	lastAckOut [2]uint32
	finOut     [2]bool
}

// gen is the traffic model: a discrete-event simulation of masters polling
// PLCs, feeding logical packets into the segmenter.
type gen struct {
	cfg     config
	seed    uint64
	hosts   []host
	plcs    []plc
	masters []master
	conns   []*conn
	q       eventQueue

	start, end int64 // µs since the epoch; end is MaxInt64 with -packets
	cycleStop  int64
	logical    int64 // logical packets so far

	attacks []pendingAttack
	atk     [numAttacks]attackState

	seg     segmenter
	out     *outQueue
	lp      lpkt
	scratch []byte
	vals    []uint16
	bits    []byte
}

func newGen(cfg config, out *outQueue) *gen {
	g := &gen{
		cfg:     cfg,
		seed:    cfg.seed,
		start:   cfg.start.UnixMicro(),
		out:     out,
		scratch: make([]byte, 0, 4*maxADU),
		vals:    make([]uint16, 0, maxWriteRegs),
		bits:    make([]byte, 0, 32),
	}
	g.end = math.MaxInt64
	g.cycleStop = math.MaxInt64
	if cfg.packets == 0 {
		g.end = g.start + cfg.duration.Microseconds()
		g.cycleStop = g.end - cycleMargin
	}
	g.seg.init(cfg, out)

	for i := 0; i < cfg.masters; i++ {
		m, h := buildMaster(i)
		m.host = len(g.hosts)
		g.hosts = append(g.hosts, h)
		g.masters = append(g.masters, m)
	}
	g.plcs = make([]plc, cfg.plcs)
	for i := range g.plcs {
		p, h := buildPLC(i)
		r := rand.New(rand.NewPCG(cfg.seed, 0x5000+uint64(i)))
		h.ipID = uint16(r.Uint32())
		p.host = len(g.hosts)
		g.hosts = append(g.hosts, h)
		g.plcs[i] = p
	}
	g.addAttackHosts()

	for mi := range g.masters {
		m := &g.masters[mi]
		mr := rand.New(rand.NewPCG(cfg.seed, 0x6000+uint64(mi)))
		portBase := mr.IntN(28232)
		for pi := range g.plcs {
			if !polls(mi, pi) {
				continue
			}
			p := &g.plcs[pi]
			r := rand.New(rand.NewPCG(cfg.seed, 0xC000_0000+uint64(mi)<<16+uint64(pi)))
			c := g.newConn(m.host, p, uint16(32768+(portBase+2*pi)%28232), r)
			c.master = m
			c.table = buildPollTable(m, p)
			c.ipID[toServer] = uint16(r.Uint32())
			g.q.push(event{t: g.start + r.Int64N(openSpread), kind: evOpen, conn: c.idx})
			if cfg.packets == 0 {
				g.q.push(event{t: g.end - 3*ms - r.Int64N(closeSpread), kind: evClose, conn: c.idx})
			}
		}
	}
	g.scheduleAttacks()
	return g
}

// newConn adds a connection from host cli to PLC p with its own RNG stream.
func (g *gen) newConn(cli int, p *plc, cport uint16, r *rand.Rand) *conn {
	c := &conn{
		idx:   int32(len(g.conns)),
		cli:   cli,
		srv:   p.host,
		cport: cport,
		sport: g.cfg.serverPort,
		rng:   r,
		plc:   p,
	}
	c.nxt[toServer] = r.Uint32()
	c.nxt[toClient] = r.Uint32()
	c.cliAddr = addrPort(g.hosts[cli].ip, cport)
	c.srvAddr = addrPort(g.hosts[p.host].ip, c.sport)
	g.conns = append(g.conns, c)
	return c
}

func addrPort(ip [4]byte, port uint16) string {
	return netip.AddrPortFrom(netip.AddrFrom4(ip), port).String()
}

// run processes events in time order until the model ends (duration) or
// the output holds the requested number of packets.
func (g *gen) run() error {
	for g.q.len() > 0 && !g.out.done() {
		e := g.q.pop()
		g.out.advance(e.t, g.seg.floor())
		if err := g.out.err(); err != nil {
			return err
		}
		g.handle(e)
		if len(g.attacks) > 0 && g.cfg.packets > 0 {
			g.triggerAttacks(e.t)
		}
	}
	g.seg.finish()
	g.out.flushAll()
	return g.out.err()
}

func (g *gen) after(c *conn, t int64, kind evKind) {
	g.q.push(event{t: t, kind: kind, conn: c.idx})
}

// between returns a uniform duration in [lo, hi] µs from c's stream.
func between(r *rand.Rand, lo, hi int64) int64 { return lo + r.Int64N(hi-lo+1) }

func (g *gen) handle(e event) {
	if e.kind == evAttack {
		g.startAttack(attackKind(e.conn), e.t)
		return
	}
	c := g.conns[e.conn]
	t := e.t
	switch e.kind {
	case evOpen:
		if c.closeWanted || c.master != nil && t >= g.cycleStop {
			return // the capture ends before this connection would poll
		}
		c.opened = true
		g.emit(c, toServer, t, flagSYN, nil, false)
		g.after(c, t+between(c.rng, 150, 600), evSynAck)
	case evSynAck:
		g.emit(c, toClient, t, flagSYN|flagACK, nil, false)
		g.after(c, t+between(c.rng, 30, 80), evHandshake)
	case evHandshake:
		g.emit(c, toServer, t, flagACK, nil, false)
		c.established = true
		if c.closeWanted {
			c.closeWanted = false
			g.after(c, t+between(c.rng, 1*ms, 5*ms), evClose)
			return
		}
		if c.script != nil {
			g.after(c, t+between(c.rng, 5*ms, 30*ms), evStep)
			return
		}
		// A master first asks who it is talking to, then polls.
		g.queueDeviceID(c, c.plc.units[0])
		g.after(c, t+between(c.rng, 1*ms, 3*ms), evSend)
		period := g.cfg.period.Microseconds() * c.master.periodMul
		g.after(c, t+50*ms+c.rng.Int64N(period), evCycle)
	case evCycle:
		if c.closing || t >= g.cycleStop {
			return
		}
		g.pollCycle(c, t)
	case evSend:
		g.sendRequest(c, t)
	case evResponse:
		g.sendResponse(c, t)
	case evClientAck:
		if e.gen != c.cliAckGen || c.closing {
			return
		}
		g.emit(c, toServer, t, flagACK, nil, false)
		c.cliUnacked = 0
		c.cliAckGen++
	case evServerAck:
		if e.gen != c.srvAckGen || !c.srvAckArmed {
			return
		}
		g.emit(c, toClient, t, flagACK, nil, false)
		c.srvAckArmed = false
	case evClose:
		if c.closing {
			return
		}
		if !c.opened {
			c.closeWanted = true // never opened: nothing to close
			return
		}
		if !c.established || c.pending.len() > 0 || c.outbox.len() > 0 {
			c.closeWanted = true // closes when the last answer is in
			return
		}
		c.closing = true
		g.emit(c, toServer, t, flagFIN|flagACK, nil, false)
		c.cliAckGen++
		g.after(c, t+between(c.rng, 200, 2*ms), evServerFin)
	case evServerFin:
		c.srvAckGen++
		c.srvAckArmed = false
		g.emit(c, toClient, t, flagFIN|flagACK, nil, false)
		g.after(c, t+between(c.rng, 20, 80), evLastAck)
	case evLastAck:
		g.emit(c, toServer, t, flagACK, nil, false)
	case evStep:
		g.attackStep(c, t)
	case evTimeout:
		if c.script.waiting && uint32(c.tid) == e.gen {
			c.script.waiting = false
			g.attackNext(c, t)
		}
	}
}

// emit hands one logical packet to the segmenter. Sequence and
// acknowledgement numbers follow the logical byte streams: a packet
// acknowledges everything the peer has sent so far.
func (g *gen) emit(c *conn, dir int, t int64, flags uint8, payload []byte, burstNext bool) {
	lp := &g.lp
	lp.t, lp.prevT = t, c.lastT
	lp.c, lp.dir, lp.flags = c, uint8(dir), flags
	lp.seq = c.nxt[dir]
	lp.ack = 0
	if flags&flagACK != 0 {
		lp.ack = c.nxt[1-dir]
	}
	switch {
	case flags&(flagSYN|flagFIN) != 0:
		c.nxt[dir]++
	default:
		c.nxt[dir] += uint32(len(payload))
	}
	lp.payload = payload
	lp.burstNext = burstNext
	c.lastT = t
	g.logical++
	g.seg.feed(lp)
}

// nextTID returns the connection's next transaction id.
func (c *conn) nextTID() uint16 {
	c.tid++
	return c.tid
}

func (g *gen) queueDeviceID(c *conn, unit uint8) {
	q := c.outbox.add()
	q.n = len(appendReadDeviceID(q.b[:0], c.nextTID(), unit, readDevIDBasic, objVendorName))
}

// pollCycle queues 1–3 pipelined requests from the poll table (SCADA masters
// sometimes add a write) and schedules them and the next cycle.
func (g *gen) pollCycle(c *conn, t int64) {
	r := c.rng
	period := g.cfg.period.Microseconds() * c.master.periodMul
	if c.pending.len() > 0 || c.outbox.len() > 0 {
		// Still waiting for the last cycle's answers (a very short -period):
		// a master does not pile up requests, it skips a cycle.
		g.after(c, t+period, evCycle)
		return
	}
	k := 1
	switch x := r.IntN(100); {
	case x >= 90:
		k = 3
	case x >= 65:
		k = 2
	}
	k = min(k, len(c.table))
	write := c.master.role == roleSCADA && r.IntN(100) < writeChance
	if write && k == maxBurst {
		k--
	}
	for i := 0; i < k; i++ {
		it := c.table[c.next]
		c.next = (c.next + 1) % len(c.table)
		q := c.outbox.add()
		q.n = len(appendRequest2(q.b[:0], c.nextTID(), it.unit, it.fc, it.addr, it.qty))
	}
	if write {
		g.queueWrite(c)
	}
	at := t
	for i := 0; i < c.outbox.len(); i++ {
		g.after(c, at, evSend)
		at += between(r, 20, 150)
	}
	jit := int64(float64(period) * g.cfg.jitter * (2*r.Float64() - 1))
	g.after(c, t+period+jit, evCycle)
}

// Write mix of SCADA masters (percent): FC 6, FC 16, FC 5, FC 15, FC 23.
var writeMix = [...]struct {
	fc     uint8
	weight int
}{
	{fcWriteSingleRegister, 45},
	{fcWriteMultipleRegisters, 25},
	{fcWriteSingleCoil, 15},
	{fcWriteMultipleCoils, 10},
	{fcReadWriteMultiple, 5},
}

// queueWrite queues a setpoint or command write of a SCADA master: values
// stay within ±50 of the setpoint's default, so a baseline can learn them.
func (g *gen) queueWrite(c *conn) {
	r := c.rng
	w := r.IntN(100)
	fc := writeMix[0].fc
	for _, e := range writeMix {
		if w < e.weight {
			fc = e.fc
			break
		}
		w -= e.weight
	}
	unit := c.plc.units[0]
	sp := setpointBase + uint16(r.IntN(8))
	setpoint := func(addr uint16) uint16 {
		h := mix(uint64(c.plc.idx)<<32 | uint64(fcReadHoldingRegisters)<<24 | uint64(unit)<<16 | uint64(addr))
		return setpointDefault(h) - 50 + uint16(r.IntN(101))
	}
	q := c.outbox.add()
	tid := c.nextTID()
	switch fc {
	case fcWriteSingleRegister:
		q.n = len(appendRequest2(q.b[:0], tid, unit, fc, sp, setpoint(sp)))
	case fcWriteMultipleRegisters, fcReadWriteMultiple:
		n := 2 + r.IntN(3)
		sp = min(sp, setpointBase+10-uint16(n))
		g.vals = g.vals[:0]
		for i := 0; i < n; i++ {
			g.vals = append(g.vals, setpoint(sp+uint16(i)))
		}
		if fc == fcWriteMultipleRegisters {
			q.n = len(appendWriteRegs(q.b[:0], tid, unit, sp, g.vals))
		} else {
			q.n = len(appendReadWriteRegs(q.b[:0], tid, unit, setpointBase, 10, sp, g.vals))
		}
	case fcWriteSingleCoil:
		v := uint16(coilOff)
		if r.IntN(2) == 1 {
			v = coilOn
		}
		q.n = len(appendRequest2(q.b[:0], tid, unit, fc, commandCoil+uint16(r.IntN(16)), v))
	case fcWriteMultipleCoils:
		g.bits = append(g.bits[:0], byte(r.Uint32()))
		q.n = len(appendWriteCoils(q.b[:0], tid, unit, commandCoil, 8, g.bits))
	}
}

// sendRequest sends the client's next queued request and decides how the
// server will react: a response after its processing time (in order, one
// request at a time), or silence in listen-only mode.
func (g *gen) sendRequest(c *conn, t int64) {
	if c.closing {
		return
	}
	q := c.outbox.front()
	adu := q.b[:q.n]
	g.emit(c, toServer, t, flagPSH|flagACK, adu, c.outbox.len() > 1)
	c.cliAckGen++ // the request carried the ACK
	c.cliUnacked = 0

	p := c.plc
	v := p.vendor
	// Draw the same numbers whatever happens next, so that an attack on one
	// PLC does not shift the rest of this connection's stream.
	delay := between(c.rng, v.minResp, v.maxResp)
	gap := between(c.rng, 200, 1500)
	rare := c.rng.IntN(rareException) == 0

	unit, fc := adu[6], adu[7]
	var sub uint16
	if fc == fcDiagnostics {
		sub = uint16(adu[8])<<8 | uint16(adu[9])
	}
	silent := p.silentUntil > t
	switch {
	case fc == fcDiagnostics && sub == diagRestartComms && silent:
		p.silentUntil = 0 // leaves listen-only mode; no response (spec 6.8.1)
	case fc == fcDiagnostics && sub == diagForceListenOnly:
		p.silentUntil = t + listenOnlyTime
		silent = true
	}
	if !p.serves(unit) {
		// A gateway answers quickly when it has no path, after its serial
		// timeout when the routed device stays silent.
		if unit >= 1 && unit <= gatewayRouted {
			delay = 40*ms + delay%(20*ms)
		} else {
			delay = 500 + delay%(1500)
		}
	}
	if silent {
		c.outbox.remove()
		if !c.srvAckArmed {
			c.srvAckArmed = true
			c.srvAckGen++
			g.q.push(event{t: t + v.delAck, kind: evServerAck, conn: c.idx, gen: c.srvAckGen})
		}
		g.maybeClose(c, t)
		return
	}
	respT := max(t+delay, c.lastResp+gap)
	c.lastResp = respT
	pq := c.pending.add()
	pq.t, pq.n = respT, q.n
	copy(pq.b[:], q.b[:q.n])
	pq.exc = 0
	if rare && c.master != nil && fc >= fcReadCoils && fc <= fcReadInputRegisters {
		pq.exc = excIllegalDataAddress
	}
	c.outbox.remove()
	g.after(c, respT, evResponse)
}

// sendResponse sends the oldest pending response; the client ACKs every
// second response at once and otherwise after its delayed-ACK timeout.
func (g *gen) sendResponse(c *conn, t int64) {
	pq := c.pending.front()
	g.scratch = g.respond(g.scratch[:0], c.plc, pq.b[:pq.n], t, pq.exc)
	c.pending.remove()
	g.emit(c, toClient, t, flagPSH|flagACK, g.scratch, c.pending.len() > 0)
	c.srvAckGen++
	c.srvAckArmed = false

	c.cliUnacked++
	c.cliAckGen++
	if c.cliUnacked >= 2 {
		g.q.push(event{t: t + between(c.rng, 20, 60), kind: evClientAck, conn: c.idx, gen: c.cliAckGen})
	} else {
		g.q.push(event{t: t + g.hosts[c.cli].delAck, kind: evClientAck, conn: c.idx, gen: c.cliAckGen})
	}
	if c.script != nil {
		c.script.waiting = false
		g.attackNext(c, t)
	}
	g.maybeClose(c, t)
}

// maybeClose closes a connection that was asked to close while requests
// were outstanding, once the last of them is done.
func (g *gen) maybeClose(c *conn, t int64) {
	if c.closeWanted && c.established && c.pending.len() == 0 && c.outbox.len() == 0 {
		c.closeWanted = false
		g.after(c, t+between(c.rng, 1*ms, 5*ms), evClose)
	}
}

// summary describes the plant for the log.
func (g *gen) summary() string {
	return fmt.Sprintf("%d masters, %d PLCs, %d connections", len(g.masters), len(g.plcs), len(g.conns))
}
