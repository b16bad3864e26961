package inventory

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/tapwire/tapwire/detect/store"
	"github.com/tapwire/tapwire/dissect"
)

func ipEP(s string, port uint16, mac byte) dissect.Endpoint {
	return dissect.Endpoint{Kind: dissect.EndpointIP, Addr: netip.MustParseAddr(s), Port: port,
		MAC: [6]byte{0, 1, 2, 3, 4, mac}, HasMAC: mac != 0}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		name  string
		steps []struct {
			side Side
			use  Use
		}
		want Role
	}{
		{"server is a plc", []struct {
			side Side
			use  Use
		}{{SideServer, UsePoll}}, RolePLC},
		{"client polling is an hmi", []struct {
			side Side
			use  Use
		}{{SideClient, UseDiscovery}, {SideClient, UsePoll}}, RoleHMI},
		{"client with engineering operations", []struct {
			side Side
			use  Use
		}{{SideClient, UsePoll}, {SideClient, UseEngineering}}, RoleEngineeringWS},
		{"a server that also polls stays a plc", []struct {
			side Side
			use  Use
		}{{SideServer, UsePoll}, {SideClient, UseEngineering}}, RolePLC},
		{"peer only is unknown", []struct {
			side Side
			use  Use
		}{{SidePeer, UsePoll}}, RoleUnknown},
		{"discovery only is a tool", []struct {
			side Side
			use  Use
		}{{SideClient, UseDiscovery}, {SideClient, UseDiscovery}}, RoleTool},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := New()
			ep := ipEP("10.0.0.1", 502, 1)
			var a *Asset
			for i, s := range tt.steps {
				a, _ = inv.Observe(ep, int64(i+1), dissect.ProtoModbus, s.side, s.use)
			}
			if a.Role != tt.want {
				t.Errorf("role %s, want %s", a.Role, tt.want)
			}
		})
	}
}

func TestObserveReportsChangesOnly(t *testing.T) {
	inv := New()
	ep := ipEP("10.0.0.1", 40000, 7)
	a, changed := inv.Observe(ep, 10, dissect.ProtoModbus, SideClient, UsePoll)
	if !changed || a.ID != "ip:10.0.0.1" || !a.HasMAC || a.FirstSeen != 10 {
		t.Fatalf("new asset: changed %v %+v", changed, a)
	}
	if _, changed := inv.Observe(ep, 20, dissect.ProtoModbus, SideClient, UsePoll); changed {
		t.Error("last_seen alone reported as a change")
	}
	if a.LastSeen != 20 {
		t.Errorf("last_seen %d, want 20", a.LastSeen)
	}
	// A router's MAC seen with another IP does not change the first one's.
	other := ipEP("10.0.0.1", 40000, 9)
	inv.Observe(other, 30, dissect.ProtoModbus, SideClient, UsePoll)
	if a.MAC[5] != 7 {
		t.Errorf("MAC replaced: %v", a.MAC)
	}
	if _, changed := inv.Observe(ep, 40, dissect.ProtoModbus, SideClient, UseEngineering); !changed || a.Role != RoleEngineeringWS {
		t.Errorf("role change not reported: %v %s", changed, a.Role)
	}
}

func TestIdentityFirstSourceWins(t *testing.T) {
	inv := New()
	a, _ := inv.Observe(ipEP("10.0.0.2", 502, 2), 1, dissect.ProtoModbus, SideServer, UsePoll)
	id := Identity{Vendor: []byte("WAGO"), Model: []byte("750-881"), Firmware: []byte("01.09.18"), By: "modbus.read_device_identification", Source: "modbus unit 1"}
	if !inv.Identify(a, id) || a.Vendor != "WAGO" || a.IdentifiedBy != "modbus.read_device_identification" {
		t.Fatalf("identity not taken: %+v", a)
	}
	if inv.Identify(a, id) {
		t.Error("the same identity reported as a change")
	}
	behind := Identity{Vendor: []byte("Schneider Electric"), Model: []byte("PM5560"), Source: "modbus unit 7"}
	if inv.Identify(a, behind) || a.Vendor != "WAGO" {
		t.Errorf("a device behind the gateway replaced its identity: %+v", a)
	}
	if !inv.Identify(a, Identity{Firmware: []byte("01.10.00"), Source: "modbus unit 1"}) || a.Firmware != "01.10.00" {
		t.Errorf("firmware update from the same source not taken: %+v", a)
	}
}

func TestJSONAndPersistence(t *testing.T) {
	inv := New()
	a, _ := inv.Observe(ipEP("10.0.0.3", 502, 3), 1e18, dissect.ProtoModbus, SideServer, UsePoll)
	inv.Identify(a, Identity{Vendor: []byte("ABB"), Model: []byte("AC500"), By: "x", Source: "s"})
	inv.Observe(ipEP("fe80::1", 40000, 0), 1e18+5, dissect.ProtoModbus, SideClient, UsePoll)
	rec := a.AppendJSON(nil, 1e18, "s1", "")
	var m map[string]any
	if err := json.Unmarshal(rec, &m); err != nil {
		t.Fatalf("%v: %s", err, rec)
	}
	if m["type"] != "asset" || m["vendor"] != "ABB" || m["role"] != "plc" || m["sensor"] != "s1" || m["site"] != nil {
		t.Errorf("record %s", rec)
	}
	st, err := store.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var w store.Writer
	if err := inv.Save(&w); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(&w); err != nil {
		t.Fatal(err)
	}
	back := New()
	if err := back.Load(st); err != nil {
		t.Fatal(err)
	}
	if back.Len() != 2 {
		t.Fatalf("%d assets loaded, want 2", back.Len())
	}
	b := back.Lookup(ipEP("10.0.0.3", 1, 0))
	if b == nil || b.Vendor != "ABB" || b.Role != RolePLC || b.IdentitySource != "s" || string(b.AppendJSON(nil, 1e18, "s1", "")) != string(rec) {
		t.Errorf("loaded %+v", b)
	}
	if back.Lookup(ipEP("fe80::1", 1, 0)) == nil {
		t.Error("IPv6 asset not loaded")
	}
}

func TestObserveAllocs(t *testing.T) {
	inv := New()
	cli, srv := ipEP("10.0.0.1", 40000, 1), ipEP("10.0.0.2", 502, 2)
	inv.Observe(cli, 1, dissect.ProtoModbus, SideClient, UsePoll)
	inv.Observe(srv, 1, dissect.ProtoModbus, SideServer, UsePoll)
	ts := int64(2)
	if n := testing.AllocsPerRun(100, func() {
		ts++
		inv.Observe(cli, ts, dissect.ProtoModbus, SideClient, UsePoll)
		inv.Observe(srv, ts, dissect.ProtoModbus, SideServer, UsePoll)
	}); n != 0 {
		t.Errorf("%v allocations per Observe of known assets", n)
	}
}
