// Package inventory keeps the asset inventory: one Asset per IP host
// (`ip:ADDR`), layer-2-only device (`mac:ADDR`) or serial slave
// (`serial:PORT/UNIT`), as BRIEF 3.1 names them. A MAC address is an
// attribute of an IP asset, never a key: a router's MAC seen with many IP
// addresses never merges them (the asset keeps the first MAC it was seen
// with).
//
// Roles are guessed from behaviour, monotonically (evidence only adds):
//   - an asset that answers requests of an OT protocol (a Modbus server) is a
//     plc;
//   - else an asset that, as a client, used engineering operations
//     (program, diagnostic or control operations, or user-defined function
//     codes) is an engineering_ws;
//   - else an asset that reads or writes as a client is an hmi;
//   - else an asset that, as a client, only discovered (device
//     identification sweeps: a scanner or a commissioning tool) is a tool;
//   - else unknown.
//
// Identity (vendor, model, firmware, serial) comes from the protocols (for
// Modbus, Read Device Identification 43/14: VendorName, ProductCode or else
// ModelName or ProductName, MajorMinorRevision), with `identified_by`
// naming the protocol field.
//
// Observe and Identify do not allocate for known assets; a new asset
// allocates its record once.
package inventory

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/tapwire/tapwire/detect/store"
	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/jsonl"
)

// Role is an asset's role as BRIEF 3.1 names them.
type Role uint8

// Roles.
const (
	RoleUnknown Role = iota
	RolePLC
	RoleRTU
	RoleIED
	RoleHMI
	RoleEngineeringWS
	RoleHistorian
	RoleServer
	RoleMedical
	RoleTool
)

var roleNames = [...]string{"unknown", "plc", "rtu", "ied", "hmi", "engineering_ws", "historian", "server", "medical", "tool"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "unknown"
}

func parseRole(s string) Role {
	for i, n := range roleNames {
		if n == s {
			return Role(i)
		}
	}
	return RoleUnknown
}

// Asset is one inventory entry.
type Asset struct {
	ID           string
	Kind         dissect.EndpointKind
	IP           netip.Addr
	MAC          [6]byte
	HasMAC       bool
	Serial       string // serial port name, for RTU slaves
	Unit         int16
	Vendor       string
	Model        string
	Firmware     string
	SerialNumber string
	IdentifiedBy string
	// IdentitySource names the sub-device the identity came from (for a
	// Modbus gateway, the unit id that answered); identities from other
	// sources do not overwrite it.
	IdentitySource string
	Role           Role
	FirstSeen      int64
	LastSeen       int64

	protos  uint64 // bit per dissect.Proto seen
	served  uint64 // protocols it answered requests of
	clients uint64 // protocols it used as a client
	eng     bool   // used engineering operations as a client
	polls   bool   // read or wrote as a client
}

// Protocols lists the protocols seen on the asset, in Proto order.
func (a *Asset) Protocols() []dissect.Proto {
	var ps []dissect.Proto
	for p := 1; p < dissect.NumProtos; p++ {
		if a.protos&(1<<p) != 0 {
			ps = append(ps, dissect.Proto(p))
		}
	}
	return ps
}

func (a *Asset) guessRole() Role {
	switch {
	case a.served != 0:
		return RolePLC
	case a.eng:
		return RoleEngineeringWS
	case a.polls:
		return RoleHMI
	case a.clients != 0:
		return RoleTool
	}
	return RoleUnknown
}

// AppendJSON appends the asset as an `asset` record (without newline).
func (a *Asset) AppendJSON(b []byte, ts int64, sensor, site string) []byte {
	b = append(b, `{"type":"asset"`...)
	b = jsonl.Time(b, "ts", ts)
	b = jsonl.String(b, "sensor", sensor)
	b = jsonl.String(b, "site", site)
	b = jsonl.String(b, "id", a.ID)
	if a.HasMAC {
		b = append(jsonl.Key(b, "mac"), '"')
		b = append(dissect.AppendMAC(b, a.MAC), '"')
	}
	if a.IP.IsValid() {
		b = append(jsonl.Key(b, "ip"), '"')
		b = append(a.IP.AppendTo(b), '"')
	}
	b = jsonl.String(b, "vendor", a.Vendor)
	b = jsonl.String(b, "model", a.Model)
	b = jsonl.String(b, "firmware", a.Firmware)
	b = jsonl.String(b, "serial", a.SerialNumber)
	b = jsonl.String(b, "role", a.Role.String())
	if a.protos != 0 {
		b = append(jsonl.Key(b, "protocols"), '[')
		for p := 1; p < dissect.NumProtos; p++ {
			if a.protos&(1<<p) != 0 {
				b = jsonl.Sep(b)
				b = jsonl.Quote(b, dissect.Proto(p).String())
			}
		}
		b = append(b, ']')
	}
	b = jsonl.Time(b, "first_seen", a.FirstSeen)
	b = jsonl.Time(b, "last_seen", a.LastSeen)
	b = jsonl.String(b, "identified_by", a.IdentifiedBy)
	return append(b, '}')
}

type serialKey struct {
	port string
	unit int16
}

// Inventory is the set of assets.
type Inventory struct {
	// recent caches IP assets by a hash of the address's last bytes:
	// most lookups hit it and skip the map.
	recent   [1024]*Asset
	byIP     map[netip.Addr]*Asset
	byMAC    map[[6]byte]*Asset
	bySerial map[serialKey]*Asset
	order    []*Asset // creation order: deterministic iteration
}

// New returns an empty inventory.
func New() *Inventory {
	return &Inventory{
		byIP:     make(map[netip.Addr]*Asset),
		byMAC:    make(map[[6]byte]*Asset),
		bySerial: make(map[serialKey]*Asset),
	}
}

// Len is the number of assets.
func (inv *Inventory) Len() int { return len(inv.order) }

// All returns the assets in creation order.
func (inv *Inventory) All() []*Asset { return inv.order }

// Lookup returns the asset an endpoint belongs to, or nil.
func (inv *Inventory) Lookup(ep dissect.Endpoint) *Asset {
	switch ep.Kind {
	case dissect.EndpointIP:
		b := ep.Addr.As16()
		slot := &inv.recent[(uint(b[15])|uint(b[14])<<8)%uint(len(inv.recent))]
		if a := *slot; a != nil && a.IP == ep.Addr {
			return a
		}
		a := inv.byIP[ep.Addr]
		if a != nil {
			*slot = a
		}
		return a
	case dissect.EndpointMAC:
		return inv.byMAC[ep.MAC]
	case dissect.EndpointSerial:
		return inv.bySerial[serialKey{ep.Serial, ep.Unit}]
	}
	return nil
}

// Use says what a client did, for the role guess.
type Use uint8

// Uses.
const (
	UsePoll        Use = iota // reads and writes
	UseEngineering            // program, diagnostic, control, user-defined operations
	UseDiscovery              // device identification and other discovery
)

// Side says how an endpoint took part in a PDU.
type Side uint8

// Sides.
const (
	SidePeer   Side = iota // no role evidence (e.g. unsolicited traffic)
	SideServer             // it answered or was asked (the server of a request/response protocol)
	SideClient             // it asked
)

// Observe records that ep took part in a PDU of proto at ts, on the given
// side; use says what a client did (ignored for other sides). It returns
// the asset and whether it is new or changed in a way worth reporting
// (role, protocols, MAC) — last_seen alone is not a change.
func (inv *Inventory) Observe(ep dissect.Endpoint, ts int64, proto dissect.Proto, side Side, use Use) (*Asset, bool) {
	a := inv.Lookup(ep)
	changed := false
	if a == nil {
		if ep.Kind == dissect.EndpointSerial && (ep.Unit == dissect.UnitMaster || ep.Unit == 0) {
			// The master of a serial line has no address, and unit 0 is
			// the broadcast address: neither is a device.
			return nil, false
		}
		a = inv.create(ep, ts)
		if a == nil {
			return nil, false
		}
		changed = true
	}
	if ts > a.LastSeen {
		a.LastSeen = ts
	}
	if ts < a.FirstSeen {
		a.FirstSeen = ts
	}
	if ep.HasMAC && !a.HasMAC && ep.Kind == dissect.EndpointIP {
		a.MAC, a.HasMAC = ep.MAC, true
		changed = true
	}
	bit := uint64(1) << proto
	if a.protos&bit == 0 {
		a.protos |= bit
		changed = true
	}
	switch side {
	case SideServer:
		a.served |= bit
	case SideClient:
		a.clients |= bit
		switch use {
		case UseEngineering:
			a.eng = true
		case UsePoll:
			a.polls = true
		}
	}
	// Evidence only accumulates, so the guess only moves up:
	// unknown → tool → hmi → engineering_ws → plc.
	if r := a.guessRole(); r != a.Role {
		a.Role = r
		changed = true
	}
	return a, changed
}

func (inv *Inventory) create(ep dissect.Endpoint, ts int64) *Asset {
	a := &Asset{Kind: ep.Kind, FirstSeen: ts, LastSeen: ts}
	switch ep.Kind {
	case dissect.EndpointIP:
		a.IP = ep.Addr
		a.ID = "ip:" + ep.Addr.String()
		if ep.HasMAC {
			a.MAC, a.HasMAC = ep.MAC, true
		}
		inv.byIP[ep.Addr] = a
	case dissect.EndpointMAC:
		a.MAC, a.HasMAC = ep.MAC, true
		a.ID = "mac:" + string(dissect.AppendMAC(nil, ep.MAC))
		inv.byMAC[ep.MAC] = a
	case dissect.EndpointSerial:
		a.Serial, a.Unit = ep.Serial, ep.Unit
		a.ID = "serial:" + ep.Serial + "/" + strconv.Itoa(int(ep.Unit))
		inv.bySerial[serialKey{ep.Serial, ep.Unit}] = a
	default:
		return nil
	}
	inv.order = append(inv.order, a)
	return a
}

// Identity is what a protocol says about a device.
type Identity struct {
	Vendor, Model, Firmware, Serial []byte
	By                              string // the protocol field, e.g. modbus.read_device_identification
	// Source names the sub-device that answered (e.g. "unit 1" behind a
	// Modbus gateway); the first source to identify an asset keeps it.
	Source string
}

// Identify sets the fields of id that are present on a; it reports whether
// anything changed. An identity from another source than the one that
// identified the asset first is ignored: a Modbus/TCP gateway answers for
// the serial devices behind it, which are not the gateway. Unchanged values
// allocate nothing.
func (inv *Inventory) Identify(a *Asset, id Identity) bool {
	if a.IdentitySource != "" && a.IdentitySource != id.Source {
		return false
	}
	changed := set(&a.Vendor, id.Vendor)
	changed = set(&a.Model, id.Model) || changed
	changed = set(&a.Firmware, id.Firmware) || changed
	changed = set(&a.SerialNumber, id.Serial) || changed
	if changed {
		if id.By != "" {
			a.IdentifiedBy = id.By
		}
		if a.IdentitySource == "" {
			a.IdentitySource = id.Source
		}
	}
	return changed
}

func set(dst *string, v []byte) bool {
	if len(v) == 0 || *dst == string(v) {
		return false
	}
	*dst = string(v)
	return true
}

// persisted is an asset as the store keeps it.
type persisted struct {
	ID           string   `json:"id"`
	MAC          string   `json:"mac,omitempty"`
	IP           string   `json:"ip,omitempty"`
	Serial       string   `json:"serial_port,omitempty"`
	Unit         int16    `json:"unit,omitempty"`
	Vendor       string   `json:"vendor,omitempty"`
	Model        string   `json:"model,omitempty"`
	Firmware     string   `json:"firmware,omitempty"`
	SerialNumber string   `json:"serial,omitempty"`
	IdentifiedBy string   `json:"identified_by,omitempty"`
	IdentitySrc  string   `json:"identity_source,omitempty"`
	Role         string   `json:"role,omitempty"`
	Protocols    []string `json:"protocols,omitempty"`
	Served       []string `json:"served,omitempty"`
	Clients      []string `json:"clients,omitempty"`
	Eng          bool     `json:"eng,omitempty"`
	Polls        bool     `json:"polls,omitempty"`
	FirstSeen    int64    `json:"first_seen"`
	LastSeen     int64    `json:"last_seen"`
}

const keyPrefix = "asset/"

func protoNames(mask uint64) []string {
	var s []string
	for p := 1; p < dissect.NumProtos; p++ {
		if mask&(1<<p) != 0 {
			s = append(s, dissect.Proto(p).String())
		}
	}
	return s
}

func protoMask(names []string) uint64 {
	var m uint64
	for _, n := range names {
		for p := 1; p < dissect.NumProtos; p++ {
			if dissect.Proto(p).String() == n {
				m |= 1 << p
			}
		}
	}
	return m
}

// Save writes every asset into w.
func (inv *Inventory) Save(w *store.Writer) error {
	for _, a := range inv.order {
		p := persisted{
			ID: a.ID, Serial: a.Serial, Unit: a.Unit, Vendor: a.Vendor, Model: a.Model,
			Firmware: a.Firmware, SerialNumber: a.SerialNumber, IdentifiedBy: a.IdentifiedBy,
			IdentitySrc: a.IdentitySource, Role: a.Role.String(), Protocols: protoNames(a.protos), Served: protoNames(a.served),
			Clients: protoNames(a.clients), Eng: a.eng, Polls: a.polls, FirstSeen: a.FirstSeen, LastSeen: a.LastSeen,
		}
		if a.HasMAC {
			p.MAC = string(dissect.AppendMAC(nil, a.MAC))
		}
		if a.IP.IsValid() {
			p.IP = a.IP.String()
		}
		v, err := json.Marshal(&p)
		if err != nil {
			return fmt.Errorf("inventory: save %s: %w", a.ID, err)
		}
		w.Put(keyPrefix+a.ID, v)
	}
	return nil
}

// Load adds the assets kept in s.
func (inv *Inventory) Load(s *store.Store) error {
	var loaded []*Asset
	err := s.Scan(keyPrefix, func(key string, v []byte) error {
		var p persisted
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("inventory: %s: %w", key, err)
		}
		a := &Asset{
			ID: p.ID, Serial: p.Serial, Unit: p.Unit, Vendor: p.Vendor, Model: p.Model, Firmware: p.Firmware,
			SerialNumber: p.SerialNumber, IdentifiedBy: p.IdentifiedBy, IdentitySource: p.IdentitySrc,
			Role:   parseRole(p.Role),
			protos: protoMask(p.Protocols), served: protoMask(p.Served), clients: protoMask(p.Clients),
			eng: p.Eng, polls: p.Polls, FirstSeen: p.FirstSeen, LastSeen: p.LastSeen,
		}
		if p.MAC != "" {
			if hw, err := parseMAC(p.MAC); err == nil {
				a.MAC, a.HasMAC = hw, true
			}
		}
		switch {
		case p.IP != "":
			ip, err := netip.ParseAddr(p.IP)
			if err != nil {
				return fmt.Errorf("inventory: %s: %w", key, err)
			}
			a.Kind, a.IP = dissect.EndpointIP, ip
		case p.Serial != "":
			a.Kind = dissect.EndpointSerial
		default:
			a.Kind = dissect.EndpointMAC
		}
		loaded = append(loaded, a)
		return nil
	})
	if err != nil {
		return err
	}
	// Keep a deterministic order: by first sighting, then id.
	slices.SortStableFunc(loaded, func(x, y *Asset) int {
		if x.FirstSeen != y.FirstSeen {
			if x.FirstSeen < y.FirstSeen {
				return -1
			}
			return 1
		}
		if x.ID < y.ID {
			return -1
		}
		if x.ID > y.ID {
			return 1
		}
		return 0
	})
	for _, a := range loaded {
		switch a.Kind {
		case dissect.EndpointIP:
			inv.byIP[a.IP] = a
		case dissect.EndpointSerial:
			inv.bySerial[serialKey{a.Serial, a.Unit}] = a
		default:
			inv.byMAC[a.MAC] = a
		}
		inv.order = append(inv.order, a)
	}
	return nil
}

func parseMAC(s string) ([6]byte, error) {
	var m [6]byte
	if len(s) != 17 {
		return m, fmt.Errorf("inventory: bad MAC %q", s)
	}
	for i := 0; i < 6; i++ {
		v, err := strconv.ParseUint(s[i*3:i*3+2], 16, 8)
		if err != nil {
			return m, fmt.Errorf("inventory: bad MAC %q", s)
		}
		m[i] = byte(v)
	}
	return m, nil
}
