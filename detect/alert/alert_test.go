package alert

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/tapwire/tapwire/dissect"
)

func ep(s string) dissect.Endpoint {
	return dissect.Endpoint{Kind: dissect.EndpointIP, Addr: netip.MustParseAddr(s)}
}

func ev(ts int64) *dissect.Event {
	return &dissect.Event{TS: ts, Proto: dissect.ProtoModbus, Dir: dissect.DirRequest, HasFunc: true, Func: 5, Name: "write_single_coil",
		Src: dissect.Endpoint{Kind: dissect.EndpointIP, Addr: netip.MustParseAddr("10.0.0.9"), Port: 40000},
		Dst: dissect.Endpoint{Kind: dissect.EndpointIP, Addr: netip.MustParseAddr("10.0.0.2"), Port: 502}, Packet: 7}
}

func spec() Spec {
	return Spec{Severity: 80, Asset: "ip:10.0.0.2", Summary: "s", Attack: []string{"T0855"}}
}

func TestGroupingAndRewrite(t *testing.T) {
	tab := NewTable(10e9)
	tab.SetInputs([]string{"a.pcap"})
	k := Key{Kind: "k", Src: ep("10.0.0.9"), Dst: ep("10.0.0.2")}
	a, write := tab.Raise(k, ev(1e9), 1, spec)
	if !write || a.Count != 1 || a.Src != "10.0.0.9" || a.Dst != "10.0.0.2" {
		t.Fatalf("first raise: write %v %+v", write, a)
	}
	id := a.ID
	// Repeats within the interval are grouped, not written.
	for i := int64(2); i <= 5; i++ {
		b, write := tab.Raise(k, ev(i*1e9), 1, spec)
		if b != a || write {
			t.Fatalf("repeat %d: new alert or written", i)
		}
	}
	// Past the interval the grown alert is written again with its id.
	b, write := tab.Raise(k, ev(12e9), 1, spec)
	if !write || b.ID != id || b.Count != 6 || b.LastSeen != 12e9 || b.FirstSeen != 1e9 {
		t.Fatalf("after interval: write %v %+v", write, b)
	}
	if len(b.Evidence) != MaxEvidence || b.Evidence[0].Input != "a.pcap" || b.Evidence[0].Packet != 7 {
		t.Errorf("evidence %+v", b.Evidence)
	}
	tab.Raise(k, ev(13e9), 1, spec)
	if p := tab.Pending(); len(p) != 1 || p[0].Count != 7 {
		t.Errorf("pending %+v", p)
	}
	if p := tab.Pending(); len(p) != 0 {
		t.Errorf("pending twice: %+v", p)
	}
	// Another key is another alert.
	k2 := k
	k2.Src = ep("10.0.0.10")
	if c, _ := tab.Raise(k2, ev(14e9), 1, spec); c == a || c.ID == id || tab.Len() != 2 {
		t.Error("a different key joined the alert")
	}
}

func TestDeterministicIDs(t *testing.T) {
	k := Key{Kind: "k", Src: ep("10.0.0.9"), Dst: ep("10.0.0.2")}
	a, _ := NewTable(1).Raise(k, ev(5), 1, spec)
	b, _ := NewTable(1).Raise(k, ev(5), 1, spec)
	c, _ := NewTable(1).Raise(k, ev(6), 1, spec)
	if a.ID != b.ID || a.ID == c.ID || len(a.ID) != 20 {
		t.Errorf("ids %s %s %s", a.ID, b.ID, c.ID)
	}
}

func TestJSON(t *testing.T) {
	tab := NewTable(1)
	k := Key{Kind: "modbus_new_writer", Src: ep("10.0.0.9"), Dst: ep("10.0.0.2")}
	a, _ := tab.Raise(k, ev(1767225600e9), 3, spec)
	rec := a.AppendJSON(nil, 1767225600e9, "", "site1")
	var m map[string]any
	if err := json.Unmarshal(rec, &m); err != nil {
		t.Fatalf("%v: %s", err, rec)
	}
	if m["type"] != "alert" || m["ts"] != "2026-01-01T00:00:00.000000000Z" || m["count"] != 3.0 || m["site"] != "site1" ||
		m["sensor"] != nil || len(m["attack"].([]any)) != 1 || len(m["evidence"].([]any)) != 1 {
		t.Errorf("record %s", rec)
	}
}
