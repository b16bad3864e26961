package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/modbus"
	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/pcapfile"
	"github.com/tapwire/tapwire/drivers/serial"
	"github.com/tapwire/tapwire/drivers/testenv"
)

// rtuLine generates the line the flags describe, in memory.
func rtuLine(t testing.TB, args ...string) *rtuGen {
	t.Helper()
	cfg, _, _, err := rtuFlags(append(args, "-o", "unused.pcapng"), io.Discard)
	if err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	g := newRTUGen(cfg)
	g.run()
	return g
}

func rtuFiles(t testing.TB, g *rtuGen) (capture, raw []byte) {
	t.Helper()
	var cb, rb bytes.Buffer
	if err := g.writeCapture(&cb); err != nil {
		t.Fatal(err)
	}
	if err := g.writeRaw(&rb); err != nil {
		t.Fatal(err)
	}
	return cb.Bytes(), rb.Bytes()
}

func TestRTUDeterministic(t *testing.T) {
	args := []string{"-duration", "5s", "-noise", "0.05", "-crc-errors", "0.05", "-truncate", "0.05", "-seed", "3"}
	c1, r1 := rtuFiles(t, rtuLine(t, args...))
	c2, r2 := rtuFiles(t, rtuLine(t, args...))
	if !bytes.Equal(c1, c2) || !bytes.Equal(r1, r2) {
		t.Fatal("the same flags gave different output")
	}
	c3, _ := rtuFiles(t, rtuLine(t, append(args, "-seed", "4")...))
	if bytes.Equal(c1, c3) {
		t.Fatal("another seed gave the same capture")
	}
	// Faults draw apart: the line without them has the same requests.
	clean := rtuLine(t, "-duration", "5s", "-seed", "3")
	faulty := rtuLine(t, args...)
	first := func(g *rtuGen, n int) []string {
		var out []string
		for _, tx := range g.tx {
			if tx.kind == txRequest && len(out) < n {
				out = append(out, hex.EncodeToString(tx.data))
			}
		}
		return out
	}
	if a, b := first(clean, 20), first(faulty, 20); strings.Join(a[:5], " ") != strings.Join(b[:5], " ") {
		t.Errorf("faults changed the traffic:\n%v\n%v", a, b)
	}
}

func TestRTUFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"-o", "x", "-baud", "9601"}, "serial: /dev/ttyS1: baud rate 9601 is not supported"},
		{[]string{"-o", "x", "-format", "9X1"}, `-format "9X1"`},
		{[]string{"-o", "x", "-noise", "0.9"}, "-noise 0.9: want 0..0.5"},
		{[]string{"-o", "x", "-frames", "10", "-duration", "2s"}, "-duration and -frames exclude each other"},
		{[]string{}, "-o FILE is required"},
	} {
		_, _, _, err := rtuFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.err)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"rtu", "-baud", "7"}, io.Discard, &stderr); code != exitUsage {
		t.Errorf("exit %d, want %d: %s", code, exitUsage, stderr.String())
	}
}

// rtuWant is what the sensor must make of a generated line: one event per
// intact request and response.
type rtuWant struct {
	dir       string
	unit, fc  int
	exception int // -1 for none
	ts        int64
}

func (g *rtuGen) wantEvents() []rtuWant {
	var out []rtuWant
	for i := range g.tx {
		tx := &g.tx[i]
		if tx.kind != txRequest && tx.kind != txResponse {
			continue
		}
		w := rtuWant{dir: "request", unit: int(tx.data[0]), fc: int(tx.data[1] & 0x7f), exception: -1, ts: g.endOf(tx)}
		if tx.kind == txResponse {
			w.dir = "response"
		}
		if tx.data[1]&0x80 != 0 {
			w.exception = int(tx.data[2])
		}
		out = append(out, w)
	}
	return out
}

// sensorRead reads RTU captures as `sensor read` does: pcapfile.Multi,
// the dissect engine with the RTU handler registered, ports named after
// the capture's interfaces.
func sensorRead(t *testing.T, paths ...string) ([]rtuWant, []string, modbus.RTUHandlerStats) {
	t.Helper()
	src := pcapfile.NewMulti(paths, func(p string, err error) { t.Errorf("%s: %v", p, err) })
	defer src.Close()
	var got []rtuWant
	var addrs []string
	sink := dissect.SinkFunc(func(b *dissect.Batch) {
		for i := range b.Events {
			e := &b.Events[i]
			d := e.Detail.(*modbus.Details)
			w := rtuWant{dir: e.Dir.String(), unit: int(d.Unit()), fc: int(e.Func), exception: -1, ts: e.TS}
			if x, ok := d.ExceptionCode(); ok {
				w.exception = int(x)
			}
			if e.Transport != dissect.TransportRTU {
				t.Fatalf("transport %s", e.Transport)
			}
			got = append(got, w)
			addrs = append(addrs, e.Src.String()+" "+e.Dst.String())
		}
	})
	eng := dissect.NewEngine(dissect.Config{}, []dissect.Dissector{modbus.New()}, sink)
	h := modbus.NewRTUHandler(nil)
	h.SetPortNamer(func(*drivers.Frame) string { _, name := src.Interface(); return name })
	eng.HandleLink(drivers.LinkRTACSerial, h)
	var f drivers.Frame
	for {
		err := src.Next(&f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		eng.Packet(&f)
	}
	eng.Close()
	return got, addrs, h.Stats()
}

// TestRTUSensorRead: sensor read reads a generated RTU capture: every
// intact frame is an event with its time, direction, unit, function and
// exception, addressed serial:PORT/UNIT and serial:PORT/master; every
// fault is counted.
func TestRTUSensorRead(t *testing.T) {
	g := rtuLine(t, "-duration", "20s", "-port", "rs485a", "-baud", "9600", "-noise", "0.02", "-crc-errors", "0.02", "-truncate", "0.02", "-exceptions", "0.05")
	capture, _ := rtuFiles(t, g)
	path := filepath.Join(t.TempDir(), "line.pcapng")
	if err := os.WriteFile(path, capture, 0o644); err != nil {
		t.Fatal(err)
	}
	got, addrs, st := sensorRead(t, path)
	want := g.wantEvents()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d: %+v, want %+v", i, got[i], want[i])
		}
		slave := "serial:rs485a/" + strconv.Itoa(want[i].unit)
		wa := "serial:rs485a/master " + slave
		if want[i].dir == "response" {
			wa = slave + " serial:rs485a/master"
		}
		if addrs[i] != wa {
			t.Fatalf("event %d: %s, want %s", i, addrs[i], wa)
		}
	}
	if int(st.CRCErrors) != g.st.crcErrors || int(st.Truncated) != g.st.truncated || int(st.NoiseBytes) != g.st.noiseBytes || st.Invalid != 0 {
		t.Errorf("handler counted %+v; generated %d CRC errors, %d truncated, %d noise bytes", st, g.st.crcErrors, g.st.truncated, g.st.noiseBytes)
	}
	t.Logf("%d events; %+v; generator %+v", len(got), st, g.st)
}

// TestRTUTshark: tshark reads a generated capture with rtacser and mbrtu:
// the same unit and function for every ADU record (mbrtu leaves
// broadcasts and 4-byte ADUs undecoded: their bytes are data).
func TestRTUTshark(t *testing.T) {
	tshark := testenv.Tool(t, "tshark")
	g := rtuLine(t, "-duration", "10s", "-back-to-back", "-noise", "0.03", "-crc-errors", "0.03")
	capture, _ := rtuFiles(t, g)
	path := filepath.Join(t.TempDir(), "line.pcapng")
	if err := os.WriteFile(path, capture, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-n", "-r", path, "-d", "rtacser.data,mbrtu",
		"-Y", "rtacser.eventtype == 3 || rtacser.eventtype == 4", "-T", "fields",
		"-e", "frame.interface_name", "-e", "mbrtu.unit_id", "-e", "modbus.func_code", "-e", "data.data").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var got []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if f[1] == "" && len(f[3]) >= 4 {
			b, _ := hex.DecodeString(f[3][:4])
			f[1], f[2] = strconv.Itoa(int(b[0])), strconv.Itoa(int(b[1]&0x7f))
		}
		got = append(got, f[0]+" "+f[1]+" "+f[2])
	}
	var want []string
	for _, w := range g.wantEvents() {
		want = append(want, fmt.Sprintf("ttyS1 %d %d", w.unit, w.fc))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tshark read %d ADUs, want %d; first lines:\n%s", len(got), len(want), strings.Join(got[:min(5, len(got))], "\n"))
	}
}

// rawTx is one line of a raw file.
type rawTx struct {
	start int64
	data  []byte
	kind  string
}

func parseRaw(t *testing.T, b []byte) []rawTx {
	t.Helper()
	var out []rawTx
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("raw line %q", line)
		}
		start, err := strconv.ParseInt(f[0], 10, 64)
		data, err2 := hex.DecodeString(f[1])
		if err != nil || err2 != nil {
			t.Fatalf("raw line %q", line)
		}
		out = append(out, rawTx{start, data, f[2]})
	}
	return out
}

// TestRTURawReplay writes a generated line's raw file into a pseudo-
// terminal, byte by byte at its times, and taps it with the serial tap
// and the RTU framer, as `sensor run --serial` does: the ADUs the tap
// finds are the capture's.
func TestRTURawReplay(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the serial tap runs on Linux")
	}
	for _, args := range [][]string{
		{"-baud", "115200", "-format", "8N1", "-frames", "400", "-period", "1ms", "-noise", "0.02", "-crc-errors", "0.02", "-truncate", "0.02"},
		{"-baud", "115200", "-format", "8N1", "-frames", "400", "-back-to-back", "-noise", "0.02", "-crc-errors", "0.02", "-truncate", "0.02"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			g := rtuLine(t, args...)
			_, raw := rtuFiles(t, g)
			txs := parseRaw(t, raw)
			m, s, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminals: %v", err)
			}
			defer m.Close()
			defer s.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tap, err := serial.Open(ctx, []serial.Config{{Device: s.Name(), Name: g.cfg.port, Baud: g.cfg.baud, Parity: serial.ParityNone}}, serial.Options{
				NewFramer: func(c serial.Config) serial.Framer {
					return modbus.NewRTURecorder(modbus.RTUConfig{Baud: c.Baud, CharBits: c.CharBits()})
				},
				Report: func(serial.Event) {},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer tap.Close()
			var live []string
			done := make(chan struct{})
			go func() {
				defer close(done)
				var f drivers.Frame
				for tap.Next(&f) == nil {
					if k, dir, adu, ok := modbus.ParseRTURecord(f.Data); ok && k == modbus.RTUADU {
						live = append(live, dir.String()+" "+hex.EncodeToString(adu))
					}
				}
			}()
			// Replay: each byte when it has arrived, never faster than
			// the line.
			ct := time.Duration(g.ct)
			t0 := time.Now().Add(10 * time.Millisecond)
			base := txs[0].start
			var last time.Time
			for _, tx := range txs {
				for j := range tx.data {
					at := t0.Add(time.Duration(tx.start-base) + time.Duration(j+1)*ct)
					if !last.IsZero() && at.Before(last.Add(ct)) {
						at = last.Add(ct)
					}
					if d := time.Until(at); d > 300*time.Microsecond {
						time.Sleep(d - 200*time.Microsecond)
					}
					for time.Now().Before(at) {
						runtime.Gosched()
					}
					if _, err := m.Write(tx.data[j : j+1]); err != nil {
						t.Fatal(err)
					}
					last = time.Now()
				}
			}
			time.Sleep(3 * serial.ReadTimeout)
			cancel()
			<-done
			var want []string
			for _, tx := range txs {
				if tx.kind == "request" || tx.kind == "response" {
					want = append(want, tx.kind+" "+hex.EncodeToString(tx.data))
				}
			}
			if strings.Join(live, "\n") != strings.Join(want, "\n") {
				for i := range want {
					if i >= len(live) || live[i] != want[i] {
						t.Fatalf("ADU %d of %d: got %v, want %v", i, len(want), live[i:min(i+2, len(live))], want[i:i+1])
					}
				}
				t.Fatalf("%d ADUs, want %d", len(live), len(want))
			}
			t.Logf("%d transmissions replayed, %d ADUs found", len(txs), len(live))
		})
	}
}
