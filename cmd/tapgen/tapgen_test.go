package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func TestDeterminism(t *testing.T) {
	for _, args := range [][]string{
		{"-seed", "1"},
		{"-seed", "1", "-attacks", "all", "-impair", "all", "-duration", "20s"},
		{"-seed", "7", "-masters", "4", "-plcs", "9", "-packets", "20000", "-period", "100ms", "-attacks", "all"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			p1, t1 := capture(t, args...)
			p2, t2 := capture(t, args...)
			if !bytes.Equal(p1, p2) || !bytes.Equal(t1, t2) {
				t.Fatal("the same flags gave different output")
			}
			other := append([]string{}, args...)
			other[1] += "0"
			p3, t3 := capture(t, other...)
			if bytes.Equal(p1, p3) || bytes.Equal(t1, t3) {
				t.Fatalf("seed %s and %s gave the same output", args[1], other[1])
			}
		})
	}
}

// TestChecksums decodes every frame with gopacket, serializes its layers
// again with gopacket computing lengths and checksums, and expects the
// same bytes: IPv4 and TCP checksums (and headers) are valid.
func TestChecksums(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "20s", "-attacks", "all", "-impair", "all", "-impair-rate", "0.3"},
		{"-duration", "10s", "-server-port", "1502", "-masters", "3", "-plcs", "5"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			pcap, _ := capture(t, args...)
			frames := readFrames(t, pcap)
			buf := gopacket.NewSerializeBuffer()
			opts := gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}
			for i, fr := range frames {
				n := i + 1
				if fr.ci.CaptureLength != fr.ci.Length || len(fr.data) < minFrameLen {
					t.Fatalf("frame %d: caplen %d len %d", n, fr.ci.CaptureLength, fr.ci.Length)
				}
				f := decodeTCP(t, n, fr.data)
				if f.ip.Flags&layers.IPv4MoreFragments != 0 || f.ip.FragOffset != 0 || f.ip.IHL != 5 {
					t.Fatalf("frame %d: unexpected IPv4 header %+v", n, f.ip)
				}
				ip, tcp := f.ip, f.tcp
				if err := tcp.SetNetworkLayerForChecksum(&ip); err != nil {
					t.Fatal(err)
				}
				if err := gopacket.SerializeLayers(buf, opts, &ip, &tcp, gopacket.Payload(f.tcp.Payload)); err != nil {
					t.Fatalf("frame %d: serialize: %v", n, err)
				}
				want := fr.data[ethLen : ethLen+int(f.ip.Length)]
				if !bytes.Equal(buf.Bytes(), want) {
					t.Fatalf("frame %d: IP/TCP bytes differ when gopacket computes checksums\n got % x\nwant % x", n, want, buf.Bytes())
				}
				for _, pad := range fr.data[ethLen+int(f.ip.Length):] {
					if pad != 0 {
						t.Fatalf("frame %d: padding not zero", n)
					}
				}
			}
		})
	}
}

// conversation is one direction of a TCP connection.
type conversation struct{ src, dst netip.AddrPort }

func endpoints(f *tcpFrame) conversation {
	src, _ := netip.AddrFromSlice(f.ip.SrcIP)
	dst, _ := netip.AddrFromSlice(f.ip.DstIP)
	return conversation{
		netip.AddrPortFrom(src, uint16(f.tcp.SrcPort)),
		netip.AddrPortFrom(dst, uint16(f.tcp.DstPort)),
	}
}

// streams reassembles each direction's byte stream by sequence number and
// checks TCP sanity on the way: times never go back, every connection
// starts with a handshake, every ACK covers only bytes its peer has sent
// (captured, or lost when allowLoss), retransmitted bytes equal the
// originals.
func streams(t *testing.T, pcap []byte, allowLoss bool) map[conversation][]byte {
	t.Helper()
	type side struct {
		isn     uint32
		synSeen bool
		data    []byte
		have    []bool
		maxEnd  uint32 // highest sequence offset sent, FIN included
	}
	sides := map[conversation]*side{}
	var last time.Time
	for i, fr := range readFrames(t, pcap) {
		n := i + 1
		if fr.ci.Timestamp.Before(last) {
			t.Fatalf("frame %d: time goes back", n)
		}
		last = fr.ci.Timestamp
		f := decodeTCP(t, n, fr.data)
		c := endpoints(f)
		s := sides[c]
		if s == nil {
			s = &side{}
			sides[c] = s
		}
		if f.tcp.SYN {
			s.isn, s.synSeen = f.tcp.Seq, true
			continue
		}
		if !s.synSeen {
			t.Fatalf("frame %d: %v without a SYN", n, c)
		}
		off := int(f.tcp.Seq - s.isn - 1)
		if end := off + len(f.tcp.Payload); len(f.tcp.Payload) > 0 && end > len(s.data) {
			s.data = append(s.data, make([]byte, end-len(s.data))...)
			s.have = append(s.have, make([]bool, end-len(s.have))...)
		}
		for k, b := range f.tcp.Payload {
			if s.have[off+k] && s.data[off+k] != b {
				t.Fatalf("frame %d: byte %d of %v sent twice with different values", n, off+k, c)
			}
			s.data[off+k], s.have[off+k] = b, true
		}
		end := uint32(off + len(f.tcp.Payload))
		if f.tcp.FIN {
			end++
		}
		s.maxEnd = max(s.maxEnd, end)
		if f.tcp.ACK {
			peer := sides[conversation{c.dst, c.src}]
			acked := f.tcp.Ack - peer.isn - 1
			if acked > peer.maxEnd && !allowLoss {
				t.Fatalf("frame %d: %v ACKs %d bytes, peer sent %d", n, c, acked, peer.maxEnd)
			}
		}
	}
	out := map[conversation][]byte{}
	for c, s := range sides {
		for k, h := range s.have {
			if !h && !allowLoss {
				t.Fatalf("%v: byte %d never captured", c, k)
			}
		}
		out[c] = s.data
	}
	return out
}

// TestImpairmentInvariant: impairments change how the streams are cut, not
// what they carry: the same PDUs in the same order, at the same times
// (coalesce moves PDUs to the time of the last one in their segment), and
// the same reassembled byte streams.
func TestImpairmentInvariant(t *testing.T) {
	cleanPcap, cleanTruth := capture(t)
	clean := parseTruth(t, cleanTruth)
	cleanStreams := streams(t, cleanPcap, false)
	cleanFrames := len(readFrames(t, cleanPcap))
	for _, k := range append(impairNames[:], "split,coalesce,retransmit,lose,reorder") {
		t.Run(k, func(t *testing.T) {
			pcap, truth := capture(t, "-impair", k)
			got := parseTruth(t, truth)
			if len(got) != len(clean) {
				t.Fatalf("%d PDUs, clean capture has %d", len(got), len(clean))
			}
			lossy := strings.Contains(k, "lose")
			var moved, lost int
			for i := range got {
				g, c := got[i], clean[i]
				if g.key() != c.key() {
					t.Fatalf("PDU %d is %+v, clean capture has %+v", i, g, c)
				}
				if g.Lost {
					lost++
				}
				if g.TS == c.TS {
					continue
				}
				if !strings.Contains(k, "coalesce") {
					t.Fatalf("PDU %d at %s, clean capture at %s", i, g.TS, c.TS)
				}
				// Coalesced: moved forward to a later PDU of the same side,
				// at most 2 ms.
				gt, ct := parseTS(t, g.TS), parseTS(t, c.TS)
				if d := gt.Sub(ct); d <= 0 || d > 2*time.Millisecond {
					t.Fatalf("PDU %d moved by %v", i, d)
				}
				found := false
				for j := i + 1; j < len(clean) && j <= i+maxCoalesce; j++ {
					if clean[j].Src == c.Src && clean[j].Dst == c.Dst && clean[j].TS == g.TS {
						found = true
					}
				}
				if !found {
					t.Fatalf("PDU %d moved to %s, not the time of a later PDU of its side", i, g.TS)
				}
				moved++
			}
			frames := len(readFrames(t, pcap))
			t.Logf("%d frames (clean %d), %d PDUs moved, %d lost", frames, cleanFrames, moved, lost)
			switch k {
			case "split", "reorder", "retransmit":
				if frames <= cleanFrames {
					t.Errorf("%s added no frames", k)
				}
			case "coalesce":
				if moved == 0 || frames >= cleanFrames {
					t.Errorf("coalesce changed nothing")
				}
			case "lose":
				if lost == 0 || frames >= cleanFrames {
					t.Errorf("lose lost nothing")
				}
			}
			if !lossy && lost > 0 {
				t.Errorf("%d PDUs marked lost without the lose impairment", lost)
			}
			got2 := streams(t, pcap, lossy)
			if len(got2) != len(cleanStreams) {
				t.Fatalf("%d directions, clean capture has %d", len(got2), len(cleanStreams))
			}
			for c, want := range cleanStreams {
				s := got2[c]
				if !lossy && !bytes.Equal(s, want) {
					t.Fatalf("%v: reassembled stream differs from the clean one", c)
				}
				if lossy && len(s) > len(want) {
					t.Fatalf("%v: stream longer than the clean one", c)
				}
			}
		})
	}
}

func parseTS(t *testing.T, s string) time.Time {
	t.Helper()
	if len(s) != len("2026-01-05T08:00:00.000000000Z") || !strings.HasSuffix(s, "Z") {
		t.Fatalf("ts %q: want RFC 3339 UTC with 9 fraction digits", s)
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestTruthMatchesCapture(t *testing.T) {
	pcap, truth := capture(t, "-attacks", "all")
	recs := parseTruth(t, truth)
	frames := readFrames(t, pcap)
	// Without impairments every data segment is exactly one PDU: walk both.
	k := 0
	for i, fr := range frames {
		f := decodeTCP(t, i+1, fr.data)
		if len(f.tcp.Payload) == 0 {
			continue
		}
		if k >= len(recs) {
			t.Fatalf("frame %d: more PDUs than truth records", i+1)
		}
		r, p := recs[k], f.tcp.Payload
		k++
		c := endpoints(f)
		in := infoOf(p)
		want := fmt.Sprintf("%s %s %d %d %d %d", c.src, c.dst, in.fc, in.tid, in.unit, in.exc)
		got := fmt.Sprintf("%s %s %d %d %d %d", r.Src, r.Dst, r.Func, r.TID, r.Unit, r.Exception)
		if got != want {
			t.Fatalf("frame %d: truth %q, capture %q", i+1, got, want)
		}
		if ts := parseTS(t, r.TS); !ts.Equal(fr.ci.Timestamp) {
			t.Fatalf("frame %d at %v, truth says %v", i+1, fr.ci.Timestamp, ts)
		}
		if wantDir := map[bool]string{true: "request", false: "response"}[c.dst.Port() == 502]; r.Dir != wantDir {
			t.Fatalf("frame %d: dir %s, want %s", i+1, r.Dir, wantDir)
		}
		if n := int(p[4])<<8 | int(p[5]); n != len(p)-6 || p[2] != 0 || p[3] != 0 {
			t.Fatalf("frame %d: bad MBAP header % x", i+1, p[:7])
		}
	}
	if k != len(recs) {
		t.Fatalf("%d PDUs in the capture, %d truth records", k, len(recs))
	}
}

func TestAttacks(t *testing.T) {
	_, cleanTruth := capture(t)
	_, truth := capture(t, "-attacks", "all")
	recs := parseTruth(t, truth)
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

	// Normal exceptions stay rare: fewer than 20 in any 10 s per server.
	checkExceptionRate(t, parseTruth(t, cleanTruth), 20)

	first := map[string]time.Time{}
	funcs := map[string]map[int]bool{}
	var scanExc []time.Time
	for _, r := range recs {
		ip := strings.Split(r.Src, ":")[0]
		if r.Dir == "response" {
			ip = strings.Split(r.Dst, ":")[0]
		}
		if !strings.HasPrefix(ip, "10.10.9.") {
			continue
		}
		ts := parseTS(t, r.TS)
		if _, ok := first[ip]; !ok {
			first[ip] = ts
			funcs[ip] = map[int]bool{}
		}
		if r.Dir == "request" {
			funcs[ip][r.Func] = true
		}
		if ip == "10.10.9.68" && r.Exception != 0 {
			scanExc = append(scanExc, ts)
		}
	}
	for _, a := range []struct {
		ip    string
		frac  float64
		funcs []int
	}{
		{"10.10.9.66", 0.72, []int{5, 15, 6}},
		{"10.10.9.67", 0.78, []int{8}},
		{"10.10.9.69", 0.84, []int{8}},
		{"10.10.9.68", 0.90, []int{43}},
	} {
		ts, ok := first[a.ip]
		if !ok {
			t.Errorf("no PDU from %s", a.ip)
			continue
		}
		at := start.Add(time.Duration(a.frac * float64(60*time.Second)))
		if d := ts.Sub(at); d < 0 || d > 100*time.Millisecond {
			t.Errorf("%s starts at %v, want just after %v", a.ip, ts, at)
		}
		for _, fc := range a.funcs {
			if !funcs[a.ip][fc] {
				t.Errorf("%s sends no FC %d", a.ip, fc)
			}
		}
	}
	if len(scanExc) < 200 || scanExc[len(scanExc)-1].Sub(scanExc[0]) > 10*time.Second {
		t.Errorf("scan: %d exceptions, want well over 100 in under 10 s", len(scanExc))
	}

	// Listen-only: the target (the first PLC with 3 PLCs) answers nobody
	// for 10 s after the request.
	silentFrom := first["10.10.9.69"]
	answered := false
	asked := 0
	for _, r := range recs {
		ts := parseTS(t, r.TS)
		if ts.Before(silentFrom) || ts.After(silentFrom.Add(9*time.Second)) {
			continue
		}
		if r.Dir == "response" && strings.HasPrefix(r.Src, "10.10.2.1:") {
			answered = true
		}
		if r.Dir == "request" && strings.HasPrefix(r.Dst, "10.10.2.1:") {
			asked++
		}
	}
	if answered || asked < 10 {
		t.Errorf("listen-only: PLC answered %v to %d requests while silent", answered, asked)
	}
}

func checkExceptionRate(t *testing.T, recs []truthRec, limit int) {
	t.Helper()
	per := map[string][]time.Time{}
	for _, r := range recs {
		if r.Exception != 0 {
			per[r.Src] = append(per[r.Src], parseTS(t, r.TS))
		}
	}
	for srv, ts := range per {
		for i := range ts {
			j := i
			for j < len(ts) && ts[j].Sub(ts[i]) < 10*time.Second {
				j++
			}
			if j-i >= limit {
				t.Errorf("%s: %d exceptions within 10 s", srv, j-i)
			}
		}
	}
}

func TestPacketsFlag(t *testing.T) {
	pcap, truth := capture(t, "-packets", "5000", "-attacks", "scan,new-writer", "-masters", "3", "-plcs", "4", "-period", "100ms")
	frames := readFrames(t, pcap)
	if len(frames) != 5000 {
		t.Fatalf("%d frames, want 5000", len(frames))
	}
	// Polling connections never close; only attackers end their sessions.
	for i, fr := range frames {
		f := decodeTCP(t, i+1, fr.data)
		if c := endpoints(f); f.tcp.FIN && !strings.HasPrefix(c.src.String()+c.dst.String(), "10.10.9.") && !strings.Contains(c.dst.String(), "10.10.9.") {
			t.Fatalf("frame %d: FIN on %v", i+1, c)
		}
	}
	var sawScan bool
	for i, r := range parseTruth(t, truth) {
		if strings.HasPrefix(r.Src, "10.10.9.68") {
			sawScan = true
			if frac := float64(i) / float64(len(parseTruth(t, truth))); frac < 0.8 {
				t.Errorf("scan starts at PDU fraction %.2f, want about 0.9", frac)
			}
			break
		}
	}
	if !sawScan {
		t.Error("no scan in the capture")
	}
}

func TestPlant(t *testing.T) {
	// Two seeds, the same plant: the same identities and unit ids.
	_, t1 := capture(t, "-seed", "1", "-duration", "5s")
	_, t2 := capture(t, "-seed", "2", "-duration", "5s")
	hosts := func(b []byte) map[string]bool {
		m := map[string]bool{}
		for _, r := range parseTruth(t, b) {
			m[fmt.Sprintf("%s %s %d", strings.Split(r.Src, ":")[0], strings.Split(r.Dst, ":")[0], r.Unit)] = true
		}
		return m
	}
	h1, h2 := hosts(t1), hosts(t2)
	for k := range h1 {
		if !h2[k] {
			t.Errorf("%s in seed 1 only", k)
		}
	}
	for i := 0; i < 10; i++ {
		p, h := buildPLC(i)
		if len(p.units) == 0 || h.ttl == 0 || h.mac[0]&1 != 0 {
			t.Errorf("PLC %d: %+v %+v", i, p, h)
		}
	}
}

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{"no args", nil, exitUsage, "Usage:"},
		{"help", []string{"--help"}, exitOK, "tapgen modbus [flags]"},
		{"version", []string{"version"}, exitOK, "tapgen "},
		{"unknown command", []string{"dnp3"}, exitUsage, `unknown command "dnp3"`},
		{"modbus help", []string{"modbus", "-h"}, exitOK, "-impair-rate"},
		{"missing -o", []string{"modbus"}, exitUsage, "-o FILE is required"},
		{"bad attack", []string{"modbus", "-attacks", "nuke", "-o", dir + "/x.pcap"}, exitUsage, `unknown name "nuke"`},
		{"bad impair", []string{"modbus", "-impair", "drop", "-o", dir + "/x.pcap"}, exitUsage, `unknown name "drop"`},
		{"both limits", []string{"modbus", "-duration", "5s", "-packets", "10", "-o", dir + "/x.pcap"}, exitUsage, "exclude each other"},
		{"bad start", []string{"modbus", "-start", "monday", "-o", dir + "/x.pcap"}, exitUsage, "RFC 3339"},
		{"bad port", []string{"modbus", "-server-port", "70000", "-o", dir + "/x.pcap"}, exitUsage, "-server-port"},
		{"cannot create", []string{"modbus", "-o", dir + "/no/such/dir/x.pcap"}, exitCantCreat, "cannot create"},
		{"ok", []string{"modbus", "-duration", "2s", "-o", dir + "/ok.pcap", "-truth", dir + "/ok.jsonl"}, exitOK, "capture written"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if all := stdout.String() + stderr.String(); !strings.Contains(all, tt.out) {
				t.Errorf("output lacks %q:\n%s", tt.out, all)
			}
		})
	}
}

// TestSteadyStateAllocs: generating more packets allocates (almost)
// nothing more.
func TestSteadyStateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	allocs := func(packets string) uint64 {
		cfg, _, _, err := modbusFlags([]string{"-masters", "8", "-plcs", "32", "-period", "100ms", "-packets", packets, "-truth", "x", "-o", "x"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := generate(cfg, discard{}, discard{}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	small, big := allocs("50000"), allocs("250000")
	per := float64(big-small) / 200000
	t.Logf("%d allocations for 50k packets, %d for 250k: %.4f per packet", small, big, per)
	if per > 0.01 {
		t.Errorf("%.4f allocations per packet in steady state", per)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkGenerate(b *testing.B) {
	cfg, _, _, err := modbusFlags([]string{"-masters", "8", "-plcs", "32", "-period", "100ms", "-packets", "200000", "-o", "x"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := generate(cfg, discard{}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/200000, "ns/packet")
}

// TestEdgeCases runs corners of the flag space through the TCP sanity checks.
func TestEdgeCases(t *testing.T) {
	for _, args := range [][]string{
		{"-masters", "1", "-plcs", "1", "-attacks", "all", "-duration", "5s"},
		{"-masters", "5", "-plcs", "7", "-period", "1ms", "-jitter", "0.5", "-duration", "2s"},
		{"-impair", "all", "-impair-rate", "1", "-duration", "10s", "-attacks", "all"},
		{"-impair", "coalesce", "-impair-rate", "1", "-period", "20ms", "-duration", "5s"},
		{"-impair", "split,reorder", "-impair-rate", "1", "-packets", "3000", "-jitter", "0"},
		{"-packets", "1", "-attacks", "all"},
		{"-start", "2030-06-30T23:59:59.999999Z", "-duration", "3s", "-server-port", "5020"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			pcap, truth := capture(t, args...)
			lossy := strings.Contains(strings.Join(args, " "), "all")
			streams(t, pcap, lossy)
			recs := parseTruth(t, truth)
			for i := 1; i < len(recs); i++ {
				if parseTS(t, recs[i].TS).Before(parseTS(t, recs[i-1].TS)) {
					t.Fatalf("truth record %d goes back in time", i)
				}
			}
		})
	}
}
