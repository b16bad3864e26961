package modbus_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/modbus"
	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/pcapfile"
	"github.com/tapwire/tapwire/drivers/testenv"
)

// The tshark cross-check: our Modbus/TCP PDUs against tshark's, frame by
// frame, on the public captures and on the generated ones. Every PDU is
// compared by (frame, direction, function code, transaction id, exception
// code, the latter per frame); tshark gives the direction by the server port. Where tshark itself
// skips PDUs (it does not dissect segments it takes for retransmissions or
// out-of-order segments), the difference is listed with its reason in
// testdata/tshark-differences.tsv, which must match exactly.

// pduKey is a PDU (frame, dir, fc, tid), or an exception code seen in a
// frame (dir "exception", fc and tid -1, exc the code).
type pduKey struct {
	frame uint64
	dir   string
	fc    int
	tid   int
	exc   int
}

func excKey(frame uint64, code int) pduKey {
	return pduKey{frame: frame, dir: "exception", fc: -1, tid: -1, exc: code}
}

func (k pduKey) String() string {
	return fmt.Sprintf("%d\t%s\t%d\t%d\t%d", k.frame, k.dir, k.fc, k.tid, k.exc)
}

type crossFile struct {
	path   string // under the shared pcaps or the repo's testdata
	shared bool
	port   int      // server port (502 unless decode-as)
	opts   []string // extra tshark preferences (-o)
}

// name is the file's key in the differences table.
func (cf crossFile) name() string {
	if len(cf.opts) > 0 {
		return cf.path + " " + strings.Join(cf.opts, " ")
	}
	return cf.path
}

func crossFiles() []crossFile {
	fs := []crossFile{
		{"iti/ModbusTCP/ModbusTCP.pcap", true, 502, nil},
		{"iti/ModbusTCP/mb2.pcap", true, 502, nil},
		{"iti/ModbusTCP/modbus_test_data_part1.pcap", true, 502, nil},
		{"iti/ModbusTCP/modbus_test_data_part2.pcap", true, 502, nil},
		{"iti/ModbusTCP/Modbus/modbus_test.pcap", true, 502, nil},
		{"iti/ModbusTCP/Modbus/modbus_test_2.pcap", true, 502, nil},
		{"lemay/characterization_modbus_6RTU_with_operate.pcap", true, 502, nil},
		{"lemay/send_a_fake_command_modbus_6RTU_with_operate.pcap", true, 502, nil},
	}
	for _, n := range []string{"clean", "attacks", "learn", "split", "coalesce", "retransmit", "lose", "reorder", "impaired"} {
		fs = append(fs, crossFile{"modbus/" + n + ".pcap", false, 502, nil})
	}
	return append(fs,
		crossFile{"modbus/port1502.pcap", false, 1502, nil},
		// With out-of-order reassembly on, tshark agrees on the
		// reordered capture: the differences above are tshark's default.
		crossFile{"modbus/reorder.pcap", false, 502, []string{"tcp.reassemble_out_of_order:TRUE"}})
}

func TestTsharkCrossCheck(t *testing.T) {
	tshark := testenv.Tool(t, "tshark")
	pcaps := testenv.Shared(t, "pcaps")
	want := readDifferences(t)
	got := map[string][]string{}
	detail := map[string][]string{}
	for _, cf := range crossFiles() {
		path := filepath.Join(pcaps, cf.path)
		if !cf.shared {
			path = testenv.Testdata(t, cf.path)
		}
		ours := ourPDUs(t, path)
		theirs := tsharkPDUs(t, tshark, path, cf.port, cf.opts)
		got[cf.name()] = diff(ours, theirs)
		detail[cf.name()] = diffDetail(ours, theirs)
		t.Logf("%s: %d PDUs ours, %d tshark, differences %q", cf.name(), total(ours), total(theirs), got[cf.name()])
	}
	for _, cf := range crossFiles() {
		g, w := strings.Join(got[cf.name()], "\n"), strings.Join(want[cf.name()], "\n")
		if g != w {
			d := detail[cf.name()]
			if len(d) > 30 {
				d = append(d[:30], "…")
			}
			t.Errorf("%s: differences from tshark changed\ngot:\n%s\nwant (testdata/tshark-differences.tsv):\n%s\nPDUs (side frame dir fc tid exception):\n%s",
				cf.name(), g, w, strings.Join(d, "\n"))
		}
	}
}

// diff counts the PDUs found on one side only, per side and direction
// ("exception" for exception codes), as "side<TAB>dir<TAB>count" lines.
func diff(ours, theirs map[pduKey]int) []string {
	count := map[string]int{}
	for k, n := range ours {
		if d := n - theirs[k]; d > 0 {
			count["ours\t"+k.dir] += d
		}
	}
	for k, n := range theirs {
		if d := n - ours[k]; d > 0 {
			count["tshark\t"+k.dir] += d
		}
	}
	var out []string
	for k, n := range count {
		out = append(out, fmt.Sprintf("%s\t%d", k, n))
	}
	sort.Strings(out)
	return out
}

// diffDetail lists the PDUs on one side only, for a failure message.
func diffDetail(ours, theirs map[pduKey]int) []string {
	var out []string
	for k, n := range ours {
		for i := theirs[k]; i < n; i++ {
			out = append(out, "ours\t"+k.String())
		}
	}
	for k, n := range theirs {
		for i := ours[k]; i < n; i++ {
			out = append(out, "tshark\t"+k.String())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		fi, fj := strings.Fields(out[i]), strings.Fields(out[j])
		a, _ := strconv.Atoi(fi[1])
		b, _ := strconv.Atoi(fj[1])
		if a != b {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}

func ourPDUs(t *testing.T, path string) map[pduKey]int {
	t.Helper()
	r, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := map[pduKey]int{}
	sink := dissect.SinkFunc(func(b *dissect.Batch) {
		for i := range b.Events {
			e := &b.Events[i]
			k := pduKey{frame: e.Packet, dir: e.Dir.String(), fc: int(e.Func), tid: -1}
			if d, ok := e.Detail.(*modbus.Details); ok {
				if tid, ok := d.TransactionID(); ok {
					k.tid = int(tid)
				}
				if x, ok := d.ExceptionCode(); ok {
					got[excKey(e.Packet, int(x))]++
				}
			}
			got[k]++
		}
	})
	eng := dissect.NewEngine(dissect.Config{}, []dissect.Dissector{modbus.New()}, sink)
	var f drivers.Frame
	for {
		if err := r.Next(&f); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("%s: %v", path, err)
			}
			break
		}
		eng.Packet(&f)
	}
	eng.Close()
	return got
}

func tsharkPDUs(t *testing.T, tshark, path string, port int, opts []string) map[pduKey]int {
	t.Helper()
	args := []string{"-n", "-r", path}
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	if port != 502 {
		args = append(args, "-d", fmt.Sprintf("tcp.port==%d,mbtcp", port))
	}
	args = append(args, "-T", "fields", "-E", "occurrence=a", "-e", "frame.number", "-e", "tcp.srcport",
		"-e", "modbus.func_code", "-e", "mbtcp.trans_id", "-e", "modbus.exception_code")
	cmd := exec.Command(tshark, args...)
	cmd.Stderr = io.Discard
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	got := map[pduKey]int{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 5 || f[2] == "" {
			continue
		}
		frame, _ := strconv.ParseUint(f[0], 10, 64)
		dir := "request"
		if f[1] == strconv.Itoa(port) {
			dir = "response"
		}
		fcs, tids := strings.Split(f[2], ","), strings.Split(f[3], ",")
		var excs []string
		if f[4] != "" {
			excs = strings.Split(f[4], ",")
		}
		for i, fc := range fcs {
			k := pduKey{frame: frame, dir: dir, tid: -1}
			k.fc, _ = strconv.Atoi(fc)
			if i < len(tids) {
				k.tid, _ = strconv.Atoi(tids[i])
			}
			got[k]++
		}
		// tshark lists the exception codes of a frame without saying
		// which PDU they belong to: compare them per frame.
		for _, x := range excs {
			code, _ := strconv.Atoi(x)
			got[excKey(frame, code)]++
		}
	}
	return got
}

func total(m map[pduKey]int) int {
	n := 0
	for k, c := range m {
		if k.dir != "exception" {
			n += c
		}
	}
	return n
}

// readDifferences reads testdata/tshark-differences.tsv: file, side (the
// side that has PDUs the other lacks), dir, count, reason.
func readDifferences(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "tshark-differences.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "file\t") || strings.HasPrefix(line, "|") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 5 {
			t.Fatalf("tshark-differences.tsv: want 5 tab-separated columns: %q", line)
		}
		want[c[0]] = append(want[c[0]], strings.Join(c[1:4], "\t"))
	}
	for k := range want {
		sort.Strings(want[k])
	}
	return want
}
