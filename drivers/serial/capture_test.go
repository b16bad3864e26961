package serial

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/pcapfile"
	"github.com/tapwire/tapwire/drivers/testenv"
)

// crc16 is CRC-16/MODBUS, bit by bit (the test's own, apart from
// dissect/modbus's table).
func crc16(b []byte) uint16 {
	c := uint16(0xFFFF)
	for _, x := range b {
		c ^= uint16(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
	}
	return c
}

// record makes an RTAC serial record of event type ev holding adu with its
// CRC appended.
func record(ts int64, ev byte, adu ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(ts/1e9))
	b = binary.BigEndian.AppendUint32(b, uint32(ts%1e9/1e3))
	b = append(b, ev, 0, 0, 0)
	b = append(b, adu...)
	c := crc16(adu)
	return append(b, byte(c), byte(c>>8))
}

type testRecord struct {
	port int
	ts   int64
	rec  []byte
}

func writeTestCapture(t *testing.T) (string, []testRecord) {
	t.Helper()
	ts := int64(1767225600123456789)
	recs := []testRecord{
		// 11 03 006B 0003: read holding registers, slave 17 (port 0).
		{0, ts, record(ts, 0x03, 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03)},
		// 11 03 06 022B 0000 0064: its response.
		{0, ts + 20e6, record(ts+20e6, 0x04, 0x11, 0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64)},
		// 05 06 0001 0003 on port 1, and its echo.
		{1, ts + 25e6, record(ts+25e6, 0x03, 0x05, 0x06, 0x00, 0x01, 0x00, 0x03)},
		{1, ts + 40e6, record(ts+40e6, 0x04, 0x05, 0x06, 0x00, 0x01, 0x00, 0x03)},
		// Noise on port 0.
		{0, ts + 50e6, append(record(ts+50e6, 0x08)[:12], 0xFF, 0xFE)},
	}
	path := filepath.Join(t.TempDir(), "rtu.pcapng")
	var buf bytes.Buffer
	c, err := NewCapture(&buf, []Config{{Device: "/dev/ttyS1"}, {Device: "/dev/ttyUSB0", Name: "line2", Baud: 9600, Parity: ParityNone}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := c.WriteRecord(r.port, r.ts, r.rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, recs
}

// TestCaptureRead: pcapfile (sensor read) reads a capture back, frame by
// frame, with the ports' names.
func TestCaptureRead(t *testing.T) {
	path, recs := writeTestCapture(t)
	names := []string{"ttyS1", "line2"}
	for _, multi := range []bool{false, true} {
		var src drivers.Source
		var iface func() (int, string)
		if multi {
			m := pcapfile.NewMulti([]string{path}, nil)
			src, iface = m, m.Interface
		} else {
			r, err := pcapfile.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			src, iface = r, r.Interface
			defer func() {
				if r.InterfaceName(0) != "ttyS1" || r.InterfaceName(1) != "line2" || r.InterfaceName(2) != "" {
					t.Errorf("InterfaceName: %q %q %q", r.InterfaceName(0), r.InterfaceName(1), r.InterfaceName(2))
				}
				r.Close()
			}()
		}
		for i, want := range recs {
			var f drivers.Frame
			if err := src.Next(&f); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			idx, name := iface()
			if f.Link != drivers.LinkRTACSerial || f.TS != want.ts || !bytes.Equal(f.Data, want.rec) || idx != want.port || name != names[want.port] {
				t.Fatalf("record %d: link %s ts %d interface %d %q data % x\nwant ts %d interface %d %q data % x",
					i, f.Link, f.TS, idx, name, f.Data, want.ts, want.port, names[want.port], want.rec)
			}
		}
		var f drivers.Frame
		if err := src.Next(&f); err != io.EOF {
			t.Fatalf("after the last record: %v", err)
		}
		if !multi {
			continue // closed after the InterfaceName check
		}
		src.Close()
	}
}

// TestCaptureTshark: tshark reads the capture as RTAC serial with mbrtu:
// the ports' names, the directions and the Modbus fields.
func TestCaptureTshark(t *testing.T) {
	tshark := testenv.Tool(t, "tshark")
	path, _ := writeTestCapture(t)
	out, err := exec.Command(tshark, "-r", path, "-d", "rtacser.data,mbrtu",
		"-T", "fields", "-E", "separator=,",
		"-e", "frame.interface_name", "-e", "frame.p2p_dir", "-e", "rtacser.eventtype",
		"-e", "mbrtu.unit_id", "-e", "modbus.func_code", "-e", "frame.time_epoch").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	want := []string{
		"ttyS1,0,0x03,17,3,1767225600.123456789",
		"ttyS1,1,0x04,17,3,1767225600.143456789",
		"line2,0,0x03,5,6,1767225600.148456789",
		"line2,1,0x04,5,6,1767225600.163456789",
		"ttyS1,,0x08,,,1767225600.173456789", // too short for mbrtu
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(l, "Running as user") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tshark read:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// With the ADU filter of the package doc, the noise record is gone.
	out, err = exec.Command(tshark, "-r", path, "-d", "rtacser.data,mbrtu", "-Y", "rtacser.eventtype == 3 || rtacser.eventtype == 4").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "Modbus RTU"); n != 4 {
		t.Fatalf("tshark shows %d Modbus RTU frames with the filter, want 4:\n%s", n, out)
	}
}
