package main

import "math/rand/v2"

// The plant: hosts, vendor profiles, unit ids and poll tables. Nothing here
// depends on -seed: the same -masters and -plcs always describe the same
// plant, so captures of different seeds are the same plant on another day.

// plantKey seeds the PCG streams that shape the plant.
const plantKey = 0x7461_7067_656e_0001

// host is one IP endpoint with the stack behaviour a sensor would see.
type host struct {
	ip        [4]byte
	mac       [6]byte
	ttl       uint8
	df        bool   // sets IPv4 Don't Fragment
	window    uint16 // advertised TCP window (no window scaling)
	perConnID bool   // IP id counts per connection (Linux) instead of per host
	delAck    int64  // client delayed-ACK timer, µs (Linux 40 ms, Windows 200 ms)
	ipID      uint16 // next IP id when !perConnID
	synOpts   []byte // TCP options of its SYN or SYN-ACK
}

// Options a SYN carries: MSS 1460, NOP, NOP, SACK permitted.
var clientSynOpts = []byte{0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02}

// Options an embedded stack's SYN-ACK carries: MSS 1460 only.
var plcSynOpts = []byte{0x02, 0x04, 0x05, 0xb4}

// vendor is a PLC family: its stack and its identities.
type vendor struct {
	oui        [3]byte
	ttl        uint8
	df         bool
	window     uint16
	delAck     int64 // µs before the stack ACKs a request it does not answer
	minResp    int64 // response time range, µs
	maxResp    int64
	conformity byte
	idents     []identity // product and firmware variants, chosen by PLC index
}

var vendors = [...]vendor{
	{
		oui: [3]byte{0x00, 0x80, 0xf4}, ttl: 64, df: false, window: 8192, delAck: 50_000,
		minResp: 2_000, maxResp: 8_000, conformity: 0x81,
		idents: []identity{
			{vendor: "Schneider Electric", product: "BMX P34 2020", revision: "v3.10"},
			{vendor: "Schneider Electric", product: "BMX P34 2020", revision: "v2.90"},
			{vendor: "Schneider Electric", product: "TM241CEC24T", revision: "v5.1.9.34"},
		},
	},
	{
		oui: [3]byte{0x00, 0x30, 0xde}, ttl: 64, df: true, window: 5840, delAck: 200_000,
		minResp: 1_000, maxResp: 5_000, conformity: 0x01,
		idents: []identity{
			{vendor: "WAGO", product: "750-881", revision: "01.09.18"},
			{vendor: "WAGO", product: "750-8202", revision: "03.10.08"},
		},
	},
	{
		oui: [3]byte{0x00, 0xa0, 0x45}, ttl: 128, df: false, window: 4096, delAck: 100_000,
		minResp: 3_000, maxResp: 12_000, conformity: 0x01,
		idents: []identity{
			{vendor: "Phoenix Contact", product: "ILC 151 ETH", revision: "4.42"},
			{vendor: "Phoenix Contact", product: "AXC 1050", revision: "2022.0.4"},
		},
	},
	{
		oui: [3]byte{0x00, 0x0c, 0xde}, ttl: 255, df: false, window: 2920, delAck: 200_000,
		minResp: 5_000, maxResp: 20_000, conformity: 0x81,
		idents: []identity{
			{vendor: "ABB", product: "AC500 PM573", revision: "2.8.3"},
			{vendor: "ABB", product: "AC500 PM583", revision: "2.8.4"},
		},
	},
	{
		oui: [3]byte{0x00, 0x1b, 0x1b}, ttl: 30, df: false, window: 8192, delAck: 50_000,
		minResp: 4_000, maxResp: 15_000, conformity: 0x01,
		idents: []identity{
			{vendor: "Siemens", product: "6ES7 315-2EH14", revision: "V3.2.6"},
			{vendor: "Siemens", product: "6ES7 315-2EH14", revision: "V3.2.8"},
		},
	},
}

// Serial devices behind a gateway answer 43/14 with their own identity.
var slaveIdents = [...]identity{
	{vendor: "Schneider Electric", product: "PM5560", revision: "2.7.4", conformity: 0x81},
	{vendor: "ABB", product: "ACS580", revision: "2.15.0.1", conformity: 0x01},
	{vendor: "Siemens", product: "SENTRON PAC3200", revision: "V2.4.4", conformity: 0x01},
	{vendor: "Phoenix Contact", product: "EEM-MA370", revision: "1.05", conformity: 0x01},
}

// A gateway answers unit ids up to gatewayRouted it has no device for with
// exception 0x0B (its serial line stays silent) and higher ones with 0x0A.
const gatewayRouted = 16

// plc is a Modbus server.
type plc struct {
	idx     int
	host    int // index into gen.hosts
	vendor  *vendor
	gateway bool
	units   []uint8
	idents  []identity // per entry of units

	silentUntil int64 // listen-only mode until this time (µs), 0 if off

	// Values written by clients, keyed by unit<<16|address.
	regs  map[uint32]uint16
	coils map[uint32]bool
}

func (p *plc) identityOf(unit uint8) *identity {
	for i, u := range p.units {
		if u == unit {
			return &p.idents[i]
		}
	}
	return &p.idents[0]
}

// serves reports whether the PLC (or a device behind the gateway) answers
// unit. A PLC that is not a gateway ignores the unit id, as most do.
func (p *plc) serves(unit uint8) bool {
	if !p.gateway {
		return true
	}
	for _, u := range p.units {
		if u == unit {
			return true
		}
	}
	return false
}

// Master roles.
type role uint8

const (
	roleHMI   role = iota // reads only, polls every period
	roleSCADA             // reads and writes setpoints, polls every 4 periods
)

func (r role) String() string {
	if r == roleSCADA {
		return "scada"
	}
	return "hmi"
}

type master struct {
	idx       int
	host      int
	role      role
	periodMul int64
}

// pollItem is one line of a master's poll table.
type pollItem struct {
	fc   uint8
	unit uint8
	addr uint16
	qty  uint16
}

// Register map shared by every PLC of the model.
const (
	setpointBase = 1000 // holding registers 1000..1099 are setpoints
	setpointLen  = 100
	commandCoil  = 100 // coils 100..115 are commands written by SCADA
)

func newHost(ip [4]byte, oui [3]byte, r *rand.Rand) host {
	return host{
		ip:  ip,
		mac: [6]byte{oui[0], oui[1], oui[2], byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())},
	}
}

// buildPLC describes PLC i at 10.10.2.(i+1).
func buildPLC(i int) (plc, host) {
	r := rand.New(rand.NewPCG(plantKey, 0x100+uint64(i)))
	v := &vendors[i%len(vendors)]
	id := v.idents[(i/len(vendors))%len(v.idents)]
	id.conformity = v.conformity
	h := newHost([4]byte{10, 10, 2, byte(i + 1)}, v.oui, r)
	h.ttl, h.df, h.window, h.synOpts = v.ttl, v.df, v.window, plcSynOpts

	p := plc{idx: i, vendor: v}
	switch {
	case i%3 == 1: // gateway to a serial line
		p.gateway = true
		n := 3 + (i/3)%3
		for u := 1; u <= n; u++ {
			p.units = append(p.units, uint8(u))
			if u == 1 {
				p.idents = append(p.idents, id)
			} else {
				p.idents = append(p.idents, slaveIdents[(i+u)%len(slaveIdents)])
			}
		}
	case i%3 == 0:
		p.units, p.idents = []uint8{1}, []identity{id}
	default:
		p.units, p.idents = []uint8{0xFF}, []identity{id}
	}
	return p, h
}

// buildMaster describes master i at 10.10.1.(i+1).
func buildMaster(i int) (master, host) {
	r := rand.New(rand.NewPCG(plantKey, 0x200+uint64(i)))
	m := master{idx: i, role: roleHMI, periodMul: 1}
	oui := [3]byte{0x00, 0xd0, 0xc9} // Advantech industrial panel PC
	if i%2 == 1 {
		m.role, m.periodMul = roleSCADA, 4
		oui = [3]byte{0x18, 0x66, 0xda} // Dell server
	}
	h := newHost([4]byte{10, 10, 1, byte(i + 1)}, oui, r)
	h.ttl, h.df, h.window, h.perConnID, h.synOpts = 64, true, 64240, true, clientSynOpts
	h.delAck = linuxDelAck
	return m, h
}

// polls reports whether master m polls PLC p: the first two masters poll
// every PLC, further masters half of them.
func polls(m, p int) bool {
	return m < 2 || (p+m)%2 == 0
}

// Function-code weights of poll-table entries (percent).
var readMix = [...]struct {
	fc     uint8
	weight int
}{
	{fcReadHoldingRegisters, 62},
	{fcReadInputRegisters, 16},
	{fcReadCoils, 11},
	{fcReadDiscreteInputs, 11},
}

var (
	holdingBases = [...]uint16{0, 100, 200, 400, 1000, 2000, 3000}
	inputBases   = [...]uint16{0, 100, 200, 500}
	bitBases     = [...]uint16{0, 16, 32, 64, 100, 200}
	regQtys      = [...]uint16{1, 2, 2, 4, 6, 8, 8, 10, 10, 12, 16, 20, 24, 32}
	bitQtys      = [...]uint16{8, 8, 16, 16, 24, 32, 48, 64}
)

// buildPollTable returns the poll table of master m for PLC p: 2–5 reads,
// every unit of a gateway covered, and for SCADA masters a read of the
// setpoint block it writes.
func buildPollTable(m *master, p *plc) []pollItem {
	r := rand.New(rand.NewPCG(plantKey, 0x10000+uint64(m.idx)<<16|uint64(p.idx)))
	n := 2 + r.IntN(4)
	if n < len(p.units) {
		n = len(p.units)
	}
	t := make([]pollItem, 0, n+1)
	for k := 0; k < n; k++ {
		unit := p.units[k%len(p.units)]
		w := r.IntN(100)
		fc := readMix[0].fc
		for _, e := range readMix {
			if w < e.weight {
				fc = e.fc
				break
			}
			w -= e.weight
		}
		it := pollItem{fc: fc, unit: unit}
		switch fc {
		case fcReadHoldingRegisters:
			it.addr = holdingBases[r.IntN(len(holdingBases))] + 10*uint16(r.IntN(8))
			it.qty = regQtys[r.IntN(len(regQtys))]
		case fcReadInputRegisters:
			it.addr = inputBases[r.IntN(len(inputBases))] + uint16(r.IntN(8))
			it.qty = regQtys[r.IntN(len(regQtys))]
		default:
			it.addr = bitBases[r.IntN(len(bitBases))]
			it.qty = bitQtys[r.IntN(len(bitQtys))]
		}
		t = append(t, it)
	}
	if m.role == roleSCADA {
		t = append(t, pollItem{fc: fcReadHoldingRegisters, unit: p.units[0], addr: setpointBase, qty: 10})
	}
	return t
}
