//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tapwire/tapwire/dissect/modbus"
	"github.com/tapwire/tapwire/drivers/testenv"
)

// rtu builds an RTU frame: unit, PDU, CRC.
func rtu(unit byte, pdu ...byte) []byte {
	return modbus.AppendCRC16(append([]byte{unit}, pdu...))
}

// poll is one exchange on the line: a read of holding registers and its
// answer.
func poll(unit byte) [][]byte {
	return [][]byte{
		rtu(unit, 3, 0, 0, 0, 2),
		rtu(unit, 3, 4, 0, 1, 0, 2),
	}
}

// newLine opens a pseudo-terminal pair and points link at its slave, as a
// udev rule points a stable name at a serial adapter.
func newLine(t *testing.T, link string) *os.File {
	t.Helper()
	ptm, pts, err := pty.Open()
	if err != nil {
		testenv.Missing(t, "no pseudo-terminals: %v", err)
	}
	name := pts.Name()
	pts.Close() // the sensor opens it by name
	os.Remove(link)
	if err := os.Symlink(name, link); err != nil {
		t.Fatal(err)
	}
	return ptm
}

func writeFrames(t *testing.T, ptm *os.File, frames [][]byte) {
	t.Helper()
	for _, f := range frames {
		if _, err := ptm.Write(f); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // more than t3.5 at 9600 baud
	}
}

// TestRunSerial taps a pseudo-terminal line: the events have serial
// addresses, the line's RTU capture reads back to the same events, and a
// port that disappears is reported and reopened when it returns.
func TestRunSerial(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "ttyRS485")
	ptm := newLine(t, link)
	out := filepath.Join(dir, "run.jsonl")
	capFile := filepath.Join(dir, "line.pcapng")
	cmd, stderr := startSensor(t, bin, "run", "--serial", "line1="+link+":9600:8N1", "--serial-capture", capFile,
		"--out", out, "--emit", "event,asset,stats")
	waitLog(t, stderr, "sensor running")
	var frames [][]byte
	for _, u := range []byte{1, 2, 1, 2} {
		frames = append(frames, poll(u)...)
	}
	writeFrames(t, ptm, frames)
	time.Sleep(300 * time.Millisecond)

	// The adapter is unplugged, then comes back as another device node.
	ptm.Close()
	waitLog(t, stderr, "lost")
	ptm = newLine(t, link)
	defer ptm.Close()
	waitLog(t, stderr, "reopened")
	writeFrames(t, ptm, append(poll(3), poll(1)...))
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sensor run: %v\n%s", err, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	recs := records(t, string(data))
	events := ofType(recs, "event")
	if len(events) != 12 {
		t.Fatalf("%d events, want 12:\n%s\nlog:\n%s", len(events), data, stderr.String())
	}
	for i, e := range events {
		unit := []string{"1", "1", "2", "2", "1", "1", "2", "2", "3", "3", "1", "1"}[i]
		wantSrc, wantDst, dir := "serial:line1/master", "serial:line1/"+unit, "request"
		if i%2 == 1 {
			wantSrc, wantDst, dir = wantDst, wantSrc, "response"
		}
		if e["transport"] != "rtu" || e["src"] != wantSrc || e["dst"] != wantDst || e["dir"] != dir || e["func"] != 3.0 {
			t.Errorf("event %d: %v", i, e)
		}
	}
	ids := map[any]bool{}
	for _, a := range ofType(recs, "asset") {
		ids[a["id"]] = true
	}
	if len(ids) != 3 || !ids["serial:line1/1"] || !ids["serial:line1/3"] {
		t.Errorf("assets %v, want serial:line1/1..3", ids)
	}
	// The capture the tap wrote reads back to the same events, times and all.
	back, stderrRead, code := sensor(t, "read", "--emit", "event", capFile)
	if code != exitOK {
		t.Fatalf("read %s: %d %s", capFile, code, stderrRead)
	}
	readEvents := ofType(records(t, back), "event")
	if len(readEvents) != len(events) {
		t.Fatalf("%d events read back from the capture, %d live", len(readEvents), len(events))
	}
	for i := range events {
		if a, b := asJSON(events[i]), asJSON(readEvents[i]); a != b {
			t.Errorf("event %d:\n live %s\n read %s", i, a, b)
		}
	}
}

func TestRunSerialErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, spec, want string
	}{
		{"no such device", filepath.Join(dir, "ttyNOPE") + ":9600:8N1", "ttyNOPE"},
		{"bad baud", "/dev/ttyS0:12345:8N1", "baud rate 12345"},
		{"bad format", "/dev/ttyS0:9600:9Z1", "line format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := sensor(t, "run", "--serial", tt.spec)
			if code != exitConfig || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitConfig, stderr)
			}
		})
	}
}
