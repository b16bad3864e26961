package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tsharkPDU is what tshark reports for one Modbus/TCP PDU.
type tsharkPDU struct{ fn, tid int }

// tsharkFrame is one frame of tshark's output with the PDUs it decoded.
type tsharkFrame struct {
	n    int
	conv string // "10.10.1.1:40001 10.10.2.1:502"
	pdus []tsharkPDU
	excs []int
}

// runTshark returns, in frame order, the PDUs tshark decodes from file and
// the exception codes it reports.
func runTshark(t *testing.T, file string, extra ...string) []tsharkFrame {
	t.Helper()
	args := append([]string{"-n", "-r", file}, extra...)
	args = append(args, "-T", "fields", "-E", "occurrence=a",
		"-e", "modbus.func_code", "-e", "mbtcp.trans_id", "-e", "modbus.exception_code",
		"-e", "frame.number", "-e", "ip.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "tcp.dstport")
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	ints := func(s string) []int {
		var v []int
		for _, f := range strings.Split(s, ",") {
			if f == "" {
				continue
			}
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("tshark field %q: %v", s, err)
			}
			v = append(v, n)
		}
		return v
	}
	var frames []tsharkFrame
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 8 {
			t.Fatalf("tshark line %q: want 8 fields", line)
		}
		fns, tids := ints(f[0]), ints(f[1])
		if len(fns) != len(tids) {
			t.Fatalf("tshark line %q: %d function codes, %d transaction ids", line, len(fns), len(tids))
		}
		fr := tsharkFrame{conv: f[4] + ":" + f[5] + " " + f[6] + ":" + f[7], excs: ints(f[2])}
		fr.n, _ = strconv.Atoi(f[3])
		for i := range fns {
			fr.pdus = append(fr.pdus, tsharkPDU{fns[i], tids[i]})
		}
		frames = append(frames, fr)
	}
	return frames
}

// flatten returns the PDUs and exception codes of frames (all frames when
// keep is nil).
func flatten(frames []tsharkFrame, keep func(*tsharkFrame) bool) ([]tsharkPDU, []int) {
	var pdus []tsharkPDU
	var excs []int
	for i := range frames {
		if keep == nil || keep(&frames[i]) {
			pdus = append(pdus, frames[i].pdus...)
			excs = append(excs, frames[i].excs...)
		}
	}
	return pdus, excs
}

func truthPDUs(recs []truthRec, withLost bool) ([]tsharkPDU, []int) {
	var pdus []tsharkPDU
	var excs []int
	for _, r := range recs {
		if r.Lost && !withLost {
			continue
		}
		pdus = append(pdus, tsharkPDU{r.Func, r.TID})
		if r.Exception != 0 {
			excs = append(excs, r.Exception)
		}
	}
	return pdus, excs
}

// derailPoint is, for one direction of a connection, the first frame that
// carries the start of a PDU in fewer than 8 bytes (MBAP header + function
// code), and how many PDUs of that direction were complete before it.
type derailPoint struct {
	frame    int
	complete int
}

// derailPoints walks a capture whose segments arrive in order and finds
// each direction's derail point (frame 0 when there is none).
func derailPoints(t *testing.T, pcap []byte) map[string]derailPoint {
	type side struct {
		isn      uint32
		data     []byte
		start    int // offset of the current PDU
		complete int
		derail   derailPoint
	}
	sides := map[string]*side{}
	for i, fr := range readFrames(t, pcap) {
		f := decodeTCP(t, i+1, fr.data)
		c := endpoints(f)
		key := c.src.String() + " " + c.dst.String()
		s := sides[key]
		if s == nil {
			s = &side{}
			sides[key] = s
		}
		if f.tcp.SYN {
			s.isn = f.tcp.Seq
			continue
		}
		p := f.tcp.Payload
		if len(p) == 0 {
			continue
		}
		if off := int(f.tcp.Seq - s.isn - 1); off != len(s.data) {
			t.Fatalf("frame %d: segment at %d, stream has %d bytes: not in order", i+1, off, len(s.data))
		}
		if s.derail.frame == 0 && len(s.data) == s.start && len(p) < 8 {
			s.derail = derailPoint{frame: i + 1, complete: s.complete}
		}
		s.data = append(s.data, p...)
		for len(s.data) >= s.start+6 {
			end := s.start + 6 + (int(s.data[s.start+4])<<8 | int(s.data[s.start+5]))
			if len(s.data) < end {
				break
			}
			s.start = end
			s.complete++
		}
	}
	out := map[string]derailPoint{}
	for k, s := range sides {
		out[k] = s.derail
	}
	return out
}

// TestTshark cross-checks the encoding with an independent dissector:
// tshark must see exactly the PDUs of the truth file (function code,
// transaction id, exception code), PDU by PDU. For impaired captures it
// asserts what tshark 4.0 reliably does (see the package doc).
func TestTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("TAPWIRE_CI") == "1" {
			t.Fatal("tshark is not on PATH and TAPWIRE_CI=1: install tshark (Wireshark) to cross-check the Modbus encoding")
		}
		t.Skip("tshark is not on PATH: skipping the Modbus/TCP cross-check (set TAPWIRE_CI=1 to make this a failure)")
	}
	cmds := map[string][]string{}
	for _, args := range readmeCommands(t) {
		_, files := outputs(t, args, "")
		cmds[files[0]] = args
	}
	tests := []struct {
		file  string
		prefs []string
		check string // exact, without-lost, split, readable
	}{
		{file: "clean.pcap", check: "exact"},
		{file: "attacks.pcap", check: "exact"},
		{file: "port1502.pcap", prefs: []string{"-d", "tcp.port==1502,mbtcp"}, check: "exact"},
		// Several PDUs in one segment: tshark decodes each.
		{file: "coalesce.pcap", check: "exact"},
		// Retransmitted data is not dissected a second time.
		{file: "retransmit.pcap", check: "exact"},
		// Lost PDUs are missing, nothing else is.
		{file: "lose.pcap", check: "without-lost"},
		// Out-of-order segments are reassembled only when asked to.
		{file: "reorder.pcap", prefs: []string{"-o", "tcp.reassemble_out_of_order:TRUE"}, check: "exact"},
		// A first part shorter than MBAP + function code derails tshark's
		// Modbus/TCP reassembly for the rest of that direction.
		{file: "split.pcap", check: "split"},
		{file: "impaired.pcap", check: "readable"},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+strings.Join(tt.prefs, " "), func(t *testing.T) {
			t.Parallel()
			args, ok := cmds[tt.file]
			if !ok {
				t.Fatalf("README has no command for %s", tt.file)
			}
			dir := t.TempDir()
			args, _ = outputs(t, args, dir)
			if !slices.Contains(args, "-truth") {
				args = append(args, "-truth", filepath.Join(dir, "truth.jsonl"))
			}
			var stderr bytes.Buffer
			if code := run(args, &bytes.Buffer{}, &stderr); code != exitOK {
				t.Fatalf("tapgen %v: exit %d\n%s", args, code, stderr.String())
			}
			b, err := os.ReadFile(args[slices.Index(args, "-truth")+1])
			if err != nil {
				t.Fatal(err)
			}
			recs := parseTruth(t, b)
			pcapFile := filepath.Join(dir, tt.file)
			frames := runTshark(t, pcapFile, tt.prefs...)
			got, gotExc := flatten(frames, nil)
			want, wantExc := truthPDUs(recs, false)
			t.Logf("tshark: %d PDUs, %d exceptions; truth: %d PDUs (%d not lost), %d exceptions",
				len(got), len(gotExc), len(recs), len(want), len(wantExc))
			switch tt.check {
			case "exact", "without-lost":
				comparePDUs(t, got, gotExc, want, wantExc)
				if tt.check == "without-lost" && len(want) == len(recs) {
					t.Fatal("nothing was lost")
				}
			case "split":
				pcap, err := os.ReadFile(pcapFile)
				if err != nil {
					t.Fatal(err)
				}
				checked := 0
				for conv, d := range derailPoints(t, pcap) {
					got, gotExc := flatten(frames, func(f *tsharkFrame) bool {
						return f.conv == conv && (d.frame == 0 || f.n < d.frame)
					})
					var dirRecs []truthRec
					for _, r := range recs {
						if r.Src+" "+r.Dst == conv {
							dirRecs = append(dirRecs, r)
						}
					}
					if d.frame != 0 {
						dirRecs = dirRecs[:d.complete]
					}
					want, wantExc := truthPDUs(dirRecs, false)
					t.Logf("%s: derails at frame %d, after %d PDUs", conv, d.frame, d.complete)
					comparePDUs(t, got, gotExc, want, wantExc)
					checked += len(want)
				}
				if checked < len(recs)/20 {
					t.Fatalf("only %d PDUs before the derail points", checked)
				}
			case "readable":
				if len(got) == 0 {
					t.Fatal("tshark decodes no Modbus/TCP")
				}
			}
		})
	}
}

// comparePDUs requires tshark's PDUs and exception codes to equal the
// truth's, one by one.
func comparePDUs(t *testing.T, got []tsharkPDU, gotExc []int, want []tsharkPDU, wantExc []int) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("PDU %d: tshark func %d tid %d, truth func %d tid %d", i, got[i].fn, got[i].tid, want[i].fn, want[i].tid)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("tshark decodes %d PDUs, truth has %d", len(got), len(want))
	}
	if !slices.Equal(gotExc, wantExc) {
		t.Fatalf("exception codes differ: tshark %v, truth %v", gotExc, wantExc)
	}
}
