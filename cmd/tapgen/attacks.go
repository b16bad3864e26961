package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// attackKind is one scripted attack of -attacks.
type attackKind uint8

const (
	atkNewWriter attackKind = iota
	atkRestart
	atkListenOnly
	atkScan
	numAttacks
)

// Per attack: its name on the command line, where it starts (fraction of
// the duration, or of -packets), the attacker's address (10.10.9.x) and NIC.
var attackSpec = [numAttacks]struct {
	name  string
	frac  float64
	ip    byte
	oui   [3]byte
	ttl   uint8
	linux bool
}{
	atkNewWriter:  {name: "new-writer", frac: 0.72, ip: 66, oui: [3]byte{0xe4, 0x54, 0xe8}, ttl: 128},              // Dell laptop, Windows
	atkRestart:    {name: "restart", frac: 0.78, ip: 67, oui: [3]byte{0x3c, 0x52, 0x82}, ttl: 128},                 // HP laptop, Windows
	atkListenOnly: {name: "listen-only", frac: 0.84, ip: 69, oui: [3]byte{0xb4, 0x2e, 0x99}, ttl: 64, linux: true}, // Gigabyte PC, Linux
	atkScan:       {name: "scan", frac: 0.90, ip: 68, oui: [3]byte{0xb8, 0x27, 0xeb}, ttl: 64, linux: true},        // Raspberry Pi
}

func (k attackKind) String() string { return attackSpec[k].name }

func parseAttacks(list string) ([]attackKind, error) {
	return parseList(list, int(numAttacks), func(i int) string { return attackSpec[i].name }, func(i int) attackKind { return attackKind(i) })
}

// parseList parses a comma list of names ("all" for every one), in the
// order of the table and without duplicates.
func parseList[T any](list string, n int, name func(int) string, val func(int) T) ([]T, error) {
	if list == "" {
		return nil, nil
	}
	on := make([]bool, n)
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			for i := range on {
				on[i] = true
			}
			continue
		}
		found := false
		for i := 0; i < n; i++ {
			if name(i) == f {
				on[i], found = true, true
			}
		}
		if !found {
			names := make([]string, n)
			for i := range names {
				names[i] = name(i)
			}
			return nil, fmt.Errorf("unknown name %q (want %s or all)", f, strings.Join(names, ", "))
		}
	}
	var out []T
	for i, v := range on {
		if v {
			out = append(out, val(i))
		}
	}
	return out, nil
}

type pendingAttack struct {
	kind      attackKind
	threshold int64 // logical packet count that starts it (-packets)
	done      bool
}

type attackState struct {
	host int // index into gen.hosts, -1 when the attack is off
}

// script is the state of an attacker's session.
type script struct {
	kind    attackKind
	step    int
	waiting bool // a request is out and no answer has come
}

// Number of requests per attack; the scan sweeps unit ids 1..247.
var attackSteps = [numAttacks]int{atkNewWriter: 3, atkRestart: 1, atkListenOnly: 1, atkScan: 247}

const attackTimeout = 1 * s // a tool gives up on an answer after this

func (g *gen) addAttackHosts() {
	for k := range g.atk {
		g.atk[k].host = -1
	}
	for _, k := range g.cfg.attacks {
		a := &attackSpec[k]
		r := rand.New(rand.NewPCG(plantKey, 0x300+uint64(k)))
		h := newHost([4]byte{10, 10, 9, a.ip}, a.oui, r)
		h.ttl, h.df, h.window, h.synOpts = a.ttl, true, 64240, clientSynOpts
		h.perConnID = a.linux
		h.delAck = windowsDelAck
		if a.linux {
			h.delAck = linuxDelAck
		}
		h.ipID = uint16(rand.New(rand.NewPCG(g.seed, 0x7100+uint64(k))).Uint32())
		g.atk[k].host = len(g.hosts)
		g.hosts = append(g.hosts, h)
	}
}

func (g *gen) scheduleAttacks() {
	for _, k := range g.cfg.attacks {
		f := attackSpec[k].frac
		if g.cfg.packets == 0 {
			at := g.start + int64(f*float64(g.cfg.duration.Microseconds()))
			g.q.push(event{t: at, kind: evAttack, conn: int32(k)})
			continue
		}
		g.attacks = append(g.attacks, pendingAttack{kind: k, threshold: int64(f * float64(g.cfg.packets))})
	}
}

// triggerAttacks starts the attacks whose packet-count threshold the model
// has reached (-packets).
func (g *gen) triggerAttacks(t int64) {
	for i := range g.attacks {
		a := &g.attacks[i]
		if !a.done && g.logical >= a.threshold {
			a.done = true
			g.q.push(event{t: t + 1*ms, kind: evAttack, conn: int32(a.kind)})
		}
	}
}

// attackTarget picks the PLC an attack goes for: new-writer the first PLC,
// restart the third, listen-only the fourth (modulo -plcs), scan the first
// gateway.
func (g *gen) attackTarget(k attackKind) *plc {
	n := len(g.plcs)
	switch k {
	case atkRestart:
		return &g.plcs[2%n]
	case atkListenOnly:
		return &g.plcs[3%n]
	case atkScan:
		for i := range g.plcs {
			if g.plcs[i].gateway {
				return &g.plcs[i]
			}
		}
	}
	return &g.plcs[0]
}

func (g *gen) startAttack(k attackKind, t int64) {
	r := rand.New(rand.NewPCG(g.seed, 0x7000+uint64(k)))
	h := &g.hosts[g.atk[k].host]
	var port uint16
	if h.perConnID {
		port = uint16(32768 + r.IntN(28232)) // Linux ephemeral range
	} else {
		port = uint16(49152 + r.IntN(16384)) // Windows ephemeral range
	}
	c := g.newConn(g.atk[k].host, g.attackTarget(k), port, r)
	c.script = &script{kind: k}
	c.ipID[toServer] = uint16(r.Uint32())
	c.tid = uint16(r.Uint32())
	g.after(c, t, evOpen)
}

// attackStep sends the script's next request.
func (g *gen) attackStep(c *conn, t int64) {
	sc := c.script
	unit := c.plc.units[0]
	q := c.outbox.add()
	tid := c.nextTID()
	switch sc.kind {
	case atkNewWriter:
		switch sc.step {
		case 0: // switch a command coil on
			q.n = len(appendRequest2(q.b[:0], tid, unit, fcWriteSingleCoil, commandCoil+3, coilOn))
		case 1: // force 16 coils on
			q.n = len(appendWriteCoils(q.b[:0], tid, unit, 0, 16, []byte{0xFF, 0xFF}))
		default: // a setpoint far outside what SCADA writes
			q.n = len(appendRequest2(q.b[:0], tid, unit, fcWriteSingleRegister, setpointBase+1, 9999))
		}
	case atkRestart:
		q.n = len(appendRequest2(q.b[:0], tid, unit, fcDiagnostics, diagRestartComms, 0x0000))
	case atkListenOnly:
		q.n = len(appendRequest2(q.b[:0], tid, unit, fcDiagnostics, diagForceListenOnly, 0x0000))
	case atkScan:
		q.n = len(appendReadDeviceID(q.b[:0], tid, uint8(sc.step+1), readDevIDBasic, objVendorName))
	}
	sc.step++
	sc.waiting = true
	g.after(c, t, evSend)
	g.q.push(event{t: t + attackTimeout, kind: evTimeout, conn: c.idx, gen: uint32(c.tid)})
}

// attackNext continues after an answer or a timeout: the next request after
// a tool's think time, or the end of the session.
func (g *gen) attackNext(c *conn, t int64) {
	sc := c.script
	if sc.step < attackSteps[sc.kind] {
		gap := between(c.rng, 200*ms, 600*ms) // an operator tool
		if sc.kind == atkScan {
			gap = between(c.rng, 2*ms, 5*ms)
		}
		g.after(c, t+gap, evStep)
		return
	}
	g.after(c, t+between(c.rng, 100*ms, 300*ms), evClose)
}
