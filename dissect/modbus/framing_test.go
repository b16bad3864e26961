package modbus_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/modbus"
	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/pcapfile"
	"github.com/tapwire/tapwire/drivers/testenv"
)

// TestFramingImpairments: every impaired capture gives the same events as
// the clean capture: all keys equal but the packet time (split and
// coalesce move a PDU's completing segment by up to a few milliseconds),
// in the same order within each flow. Lost segments: the PDUs they carried
// (the truth file marks them) are missing and counted in the stats; the
// responses to lost requests lose their pairing (no address or quantity,
// "unmatched"), nothing else changes.
func TestFramingImpairments(t *testing.T) {
	clean, cleanStats := decodeFile(t, testenv.Testdata(t, "modbus", "clean.pcap"))
	if len(clean) < 1000 || cleanStats.TCPGaps != 0 || cleanStats.Resyncs != 0 || cleanStats.FramingErrors != 0 {
		t.Fatalf("clean capture: %d events, stats %+v", len(clean), cleanStats)
	}
	for _, name := range []string{"split", "coalesce", "retransmit", "reorder", "lose", "impaired"} {
		t.Run(name, func(t *testing.T) {
			got, st := decodeFile(t, testenv.Testdata(t, "modbus", name+".pcap"))
			lost := map[string]bool{}
			if name == "lose" || name == "impaired" {
				lost = readLost(t, testenv.Testdata(t, "modbus", name+".truth.jsonl"))
				if len(lost) == 0 {
					t.Fatal("truth file marks no lost PDU")
				}
			}
			var want []pdu
			lostReq := map[string]bool{}
			for _, e := range clean {
				if lost[e.id] {
					if e.dir == "request" {
						lostReq[e.pair] = true
					}
					continue
				}
				want = append(want, e)
			}
			compareFlows(t, got, want, lostReq)
			if len(lost) > 0 {
				if st.TCPGaps == 0 || st.TCPLostBytes == 0 {
					t.Errorf("%d PDUs lost but no gap counted: %+v", len(lost), st)
				}
			} else if st.TCPGaps != 0 {
				t.Errorf("%d gaps counted in a capture that lost nothing", st.TCPGaps)
			}
			if name == "retransmit" && st.TCPRetransmitted == 0 {
				t.Error("no retransmission counted")
			}
			if name == "reorder" && st.TCPOutOfOrder == 0 {
				t.Error("no out-of-order segment counted")
			}
			if st.PDUErrors[dissect.ProtoModbus] != cleanStats.PDUErrors[dissect.ProtoModbus] {
				t.Errorf("decode errors %d, clean capture %d", st.PDUErrors[dissect.ProtoModbus], cleanStats.PDUErrors[dissect.ProtoModbus])
			}
			t.Logf("%d events; gaps %d lost bytes %d retransmitted %d overlaps %d out of order %d partial PDUs lost %d",
				len(got), st.TCPGaps, st.TCPLostBytes, st.TCPRetransmitted, st.TCPOverlaps, st.TCPOutOfOrder, st.PartialPDUsLost)
		})
	}
}

type pdu struct {
	id   string // src dst dir func tid: as the truth file names a PDU
	pair string // src/dst of the request and tid: pairs a response with its request
	flow string
	dir  string
	ts   int64
	json string // the event without ts
}

func decodeFile(t *testing.T, path string) ([]pdu, dissect.Stats) {
	t.Helper()
	r, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []pdu
	sink := dissect.SinkFunc(func(b *dissect.Batch) {
		for i := range b.Events {
			e := &b.Events[i]
			d := e.Detail.(*modbus.Details)
			tid, _ := d.TransactionID()
			src, dst := e.Src.String(), e.Dst.String()
			p := pdu{
				id:  fmt.Sprintf("%s %s %s %d %d", src, dst, e.Dir, e.Func, tid),
				dir: e.Dir.String(),
				ts:  e.TS,
			}
			if e.Dir == dissect.DirRequest {
				p.pair, p.flow = fmt.Sprintf("%s %s %d", src, dst, tid), src+" "+dst
			} else {
				p.pair, p.flow = fmt.Sprintf("%s %s %d", dst, src, tid), dst+" "+src
			}
			e.TS = 0
			p.json = string(e.AppendJSON(nil, "", ""))
			out = append(out, p)
		}
	})
	eng := dissect.NewEngine(dissect.Config{}, []dissect.Dissector{modbus.New()}, sink)
	var f drivers.Frame
	for {
		if err := r.Next(&f); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		eng.Packet(&f)
	}
	eng.Close()
	return out, eng.Stats()
}

func readLost(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lost := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Src, Dst, Dir string
			Func, TID     int
			Lost          bool
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Lost {
			lost[fmt.Sprintf("%s %s %s %d %d", r.Src, r.Dst, r.Dir, r.Func, r.TID)] = true
		}
	}
	return lost
}

// compareFlows checks got against want flow by flow, in order.
func compareFlows(t *testing.T, got, want []pdu, lostReq map[string]bool) {
	t.Helper()
	byFlow := func(ps []pdu) map[string][]pdu {
		m := map[string][]pdu{}
		for _, p := range ps {
			m[p.flow] = append(m[p.flow], p)
		}
		return m
	}
	g, w := byFlow(got), byFlow(want)
	if len(g) != len(w) {
		t.Errorf("%d flows, want %d", len(g), len(w))
	}
	for flow, wp := range w {
		gp := g[flow]
		if len(gp) != len(wp) {
			t.Errorf("flow %s: %d events, want %d", flow, len(gp), len(wp))
		}
		for i := 0; i < len(gp) && i < len(wp); i++ {
			a, b := gp[i], wp[i]
			if a.id != b.id {
				t.Errorf("flow %s event %d: %s, want %s", flow, i, a.id, b.id)
				break
			}
			if a.dir == "response" && lostReq[a.pair] {
				if !strings.Contains(a.json, `"unmatched":true`) {
					t.Errorf("response to a lost request is not unmatched: %s", a.json)
				}
			} else if a.json != b.json {
				t.Errorf("flow %s event %d:\n got %s\nwant %s", flow, i, a.json, b.json)
			}
			if d := a.ts - b.ts; d < -5e6 || d > 5e6 {
				t.Errorf("flow %s event %d (%s): packet time moved by %d ns", flow, i, a.id, d)
			}
		}
	}
}
