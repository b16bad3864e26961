package detect

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/tapwire/tapwire/detect/output"
	"github.com/tapwire/tapwire/detect/store"
	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/modbus"
)

// harness feeds Modbus events built by the real dissector into an Engine.
type harness struct {
	t   *testing.T
	e   *Engine
	out bytes.Buffer
	w   *output.Writer
	mb  *modbus.Dissector
	b   *dissect.Batch
	c   *dissect.Context
	tid uint16
}

func newHarness(t *testing.T, cfg Config, st *store.Store) *harness {
	t.Helper()
	if st == nil {
		var err error
		if st, err = store.Open("", nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
	}
	h := &harness{t: t, mb: modbus.New(), b: dissect.NewBatch()}
	h.w = output.NewWriter(&h.out, output.EmitAlert, "", "")
	e, err := New(cfg, st, h.w, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	h.c = dissect.NewContext(h.b, e)
	h.c.Transport = dissect.TransportTCP
	h.c.SetProto(dissect.ProtoModbus)
	h.c.FlowSlot, h.c.FlowID = 0, 1
	return h
}

func host(ip string, port uint16) dissect.Endpoint {
	return dissect.Endpoint{Kind: dissect.EndpointIP, Addr: netip.MustParseAddr(ip), Port: port}
}

// pdu decodes one Modbus ADU (MBAP header added here) at ts seconds.
func (h *harness) pdu(ts float64, dir dissect.Dir, client, server string, pdu ...byte) {
	h.t.Helper()
	adu := []byte{byte(h.tid >> 8), byte(h.tid), 0, 0, 0, byte(len(pdu) + 1), 1}
	adu = append(adu, pdu...)
	h.c.TS = int64(ts * 1e9)
	h.c.Dir = dir
	if dir == dissect.DirRequest {
		h.c.Src, h.c.Dst = host(client, 40000), host(server, 502)
	} else {
		h.c.Src, h.c.Dst = host(server, 502), host(client, 40000)
	}
	if err := h.mb.Decode(h.c, adu); err != nil {
		h.t.Fatalf("decode % x: %v", adu, err)
	}
	h.c.Flush()
}

func (h *harness) exchange(ts float64, client, server string, req, resp []byte) {
	h.tid++
	h.pdu(ts, dissect.DirRequest, client, server, req...)
	h.pdu(ts+0.001, dissect.DirResponse, client, server, resp...)
}

// alerts returns the final counts of each alert kind, summed over alerts.
func (h *harness) alerts() map[string]float64 {
	h.w.Flush()
	last := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(h.out.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			h.t.Fatal(err)
		}
		last[m["id"].(string)] = m
	}
	got := map[string]float64{}
	for _, m := range last {
		got[m["kind"].(string)] += m["count"].(float64)
	}
	return got
}

var (
	readReq   = []byte{3, 0, 0, 0, 2}       // read holding registers 0, 2
	readResp  = []byte{3, 4, 0, 1, 0, 2}    // 2 registers
	writeReq  = []byte{6, 0, 9, 0, 42}      // write register 9 = 42
	restart   = []byte{8, 0, 1, 0, 0}       // diagnostics 8/1
	listen    = []byte{8, 0, 4, 0, 0}       // diagnostics 8/4
	exception = []byte{0x83, 0x02}          // illegal data address
	coilReq   = []byte{5, 0, 1, 0xff, 0x00} // write single coil 1 on
	coilResp  = []byte{5, 0, 1, 0xff, 0x00} // echo
)

func TestExceptionBurstWindow(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		every float64 // seconds between exceptions
		want  float64 // alert count, 0 for none
	}{
		{"19 in 2 s", 19, 0.1, 0},
		{"20 in 2 s", 20, 0.1, 20},
		{"30 in 3 s", 30, 0.1, 30},
		{"25 one a second", 25, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Mode: ModeDetect}, nil)
			for i := 0; i < tt.n; i++ {
				h.exchange(100+float64(i)*tt.every, "10.0.0.9", "10.0.0.2", readReq, exception)
			}
			h.e.Close()
			if got := h.alerts()[KindModbusExceptionBurst]; got != tt.want {
				t.Errorf("burst alert count %v, want %v", got, tt.want)
			}
		})
	}
}

func TestModes(t *testing.T) {
	traffic := func(h *harness, from float64) {
		h.exchange(from, "10.0.0.1", "10.0.0.2", readReq, readResp)
		h.exchange(from+1, "10.0.0.1", "10.0.0.2", writeReq, writeReq)
		h.exchange(from+2, "10.0.0.7", "10.0.0.2", coilReq, coilResp)
		h.exchange(from+3, "10.0.0.8", "10.0.0.2", restart, restart)
	}
	tests := []struct {
		name string
		cfg  Config
		want map[string]float64
	}{
		{"learn: nothing", Config{Mode: ModeLearn}, map[string]float64{}},
		{"detect: every writer is new, restart alerts", Config{Mode: ModeDetect},
			map[string]float64{KindModbusNewWriter: 2, KindModbusRestart: 1}},
		{"auto inside the window: dangerous operations only", Config{Mode: ModeAuto, LearnFor: 3600e9},
			map[string]float64{KindModbusRestart: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg, nil)
			traffic(h, 1000)
			h.e.Close()
			got := h.alerts()
			if len(got) != len(tt.want) {
				t.Fatalf("alerts %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s count %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestAutoLearnsThenDetectsAcrossRuns(t *testing.T) {
	st, err := store.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := Config{Mode: ModeAuto, LearnFor: 60e9}
	h := newHarness(t, cfg, st)
	h.exchange(1000, "10.0.0.1", "10.0.0.2", writeReq, writeReq) // learning
	h.exchange(1030, "10.0.0.1", "10.0.0.2", readReq, readResp)
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	if len(h.alerts()) != 0 {
		t.Fatalf("alerts while learning: %v", h.alerts())
	}
	// A second run on the same state: the window (1000 s + 60 s) has passed.
	h2 := newHarness(t, cfg, st)
	h2.exchange(1100, "10.0.0.1", "10.0.0.2", writeReq, writeReq) // learned writer
	h2.exchange(1101, "10.0.0.5", "10.0.0.2", writeReq, writeReq) // new writer
	h2.exchange(1102, "10.0.0.5", "10.0.0.2", writeReq, writeReq)
	h2.e.Close()
	if got := h2.alerts(); len(got) != 1 || got[KindModbusNewWriter] != 2 {
		t.Errorf("alerts %v, want one new writer seen twice", got)
	}
	if s := h2.e.Stats(); s.LearningUntil != 1060e9 || s.Assets != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestListenOnlyAndIdentity(t *testing.T) {
	h := newHarness(t, Config{Mode: ModeDetect}, nil)
	h.tid++
	h.pdu(10, dissect.DirRequest, "10.0.0.9", "10.0.0.2", listen...)
	// 43/14 basic identification response: vendor, product code, revision.
	h.tid++
	h.pdu(11, dissect.DirRequest, "10.0.0.1", "10.0.0.2", 0x2b, 0x0e, 0x01, 0x00)
	resp := []byte{0x2b, 0x0e, 0x01, 0x01, 0x00, 0x00, 0x03,
		0x00, 4, 'W', 'A', 'G', 'O',
		0x01, 7, '7', '5', '0', '-', '8', '8', '1',
		0x02, 8, '0', '1', '.', '0', '9', '.', '1', '8'}
	h.pdu(11.001, dissect.DirResponse, "10.0.0.1", "10.0.0.2", resp...)
	h.e.Close()
	if got := h.alerts(); got[KindModbusListenOnly] != 1 {
		t.Errorf("alerts %v, want listen-only", got)
	}
	a := h.e.Inventory().Lookup(host("10.0.0.2", 0))
	if a == nil || a.Vendor != "WAGO" || a.Model != "750-881" || a.Firmware != "01.09.18" || a.Role.String() != "plc" {
		t.Errorf("asset %+v", a)
	}
}

func TestStateVersionChecked(t *testing.T) {
	st, err := store.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Put(keyVersion, []byte("99")); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{}, st, output.NewWriter(&bytes.Buffer{}, output.EmitAll, "", ""), nil); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("New on a state of another version: %v", err)
	}
}
