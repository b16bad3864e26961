package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// cutCapture writes the first n bytes of a capture to a temp file.
func cutCapture(t *testing.T, src string, n int) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if n < 0 {
		n = len(data) + n
	}
	p := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(p, data[:n], 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// linkTypeCapture writes a pcap with one packet of an unsupported link type.
func linkTypeCapture(t *testing.T, lt layers.LinkType) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "linktype.pcap")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	data := []byte{1, 2, 3, 4}
	if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: 4, Length: 4}, data); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExitCodes checks BRIEF section 3's exit codes and that messages on
// stderr name the file and what is wrong.
func TestExitCodes(t *testing.T) {
	clean := capture(t, "clean.pcap")
	// 24-byte header + 16-byte record header: cutting inside the first
	// packet's data leaves no whole packet; cutting 10 bytes off the end
	// cuts the last packet short.
	cutLast := cutCapture(t, clean, -10)
	cutHeader := cutCapture(t, clean, 24+8)
	missing := filepath.Join(t.TempDir(), "missing.pcap")
	notCapture := writeFile(t, "notes.txt", "this is not a capture file\n")
	badConfig := writeFile(t, "bad.yaml", "version: 1\nflows:\n  maxx: 10\n")
	badVersion := writeFile(t, "v2.yaml", "version: 2\n")
	noVersion := writeFile(t, "nov.yaml", "site: a\n")
	badDuration := writeFile(t, "dur.yaml", "version: 1\ndetect:\n  learn_for: soon\n")
	goodConfig := writeFile(t, "good.yaml", "version: 1\nsite: plant-a\nsensor: s1\ndetect:\n  learn_for: 40s\n")

	tests := []struct {
		name       string
		args       []string
		code       int
		stderr     []string // substrings
		wantStats  bool     // a stats record is still written
		minPackets float64  // packets in stats at least
	}{
		{name: "ok", args: []string{"read", "--emit", "stats", clean}, code: exitOK, wantStats: true, minPackets: 1817},
		{name: "damaged among several", args: []string{"read", "--emit", "stats", clean, cutLast, clean}, code: exitDamaged,
			stderr: []string{cutLast, "cut short"}, wantStats: true, minPackets: 1817*2 + 1800},
		{name: "cut short last record", args: []string{"read", "--emit", "stats", cutLast}, code: exitDamaged,
			stderr: []string{cutLast, "cut short"}, wantStats: true, minPackets: 1800},
		{name: "cut in the first record", args: []string{"read", "--emit", "stats", cutHeader}, code: exitDamaged,
			stderr: []string{cutHeader}, wantStats: true},
		{name: "missing file", args: []string{"read", "--emit", "stats", missing, clean}, code: exitNoInput,
			stderr: []string{missing, "no such file"}, wantStats: true, minPackets: 1817},
		{name: "not a capture", args: []string{"read", notCapture}, code: exitNoInput, stderr: []string{notCapture}, wantStats: true},
		{name: "unknown link type", args: []string{"read", linkTypeCapture(t, 105)}, code: exitNoInput,
			stderr: []string{"linktype.pcap", "unsupported link type"}, wantStats: true},
		{name: "bad config key", args: []string{"read", "--config", badConfig, clean}, code: exitConfig,
			stderr: []string{badConfig, `unknown key "maxx"`, "line 3"}},
		{name: "bad config version", args: []string{"read", "--config", badVersion, clean}, code: exitConfig,
			stderr: []string{badVersion, "version: 2 is not supported"}},
		{name: "config without version", args: []string{"read", "--config", noVersion, clean}, code: exitConfig,
			stderr: []string{noVersion, "version: missing"}},
		{name: "bad duration", args: []string{"read", "--config", badDuration, clean}, code: exitConfig,
			stderr: []string{badDuration, `"soon" is not a positive duration`}},
		{name: "absent config", args: []string{"read", "--config", missing, clean}, code: exitConfig,
			stderr: []string{missing, "does not exist"}},
		{name: "good config", args: []string{"read", "--config", goodConfig, "--emit", "stats", clean}, code: exitOK, wantStats: true},
		{name: "bad flag", args: []string{"read", "--no-such-flag", clean}, code: exitUsage, stderr: []string{"no-such-flag"}},
		{name: "no file", args: []string{"read"}, code: exitUsage, stderr: []string{"no capture file"}},
		{name: "bad mode", args: []string{"read", "--mode", "guess", clean}, code: exitUsage, stderr: []string{"--mode", "guess"}},
		{name: "bad emit", args: []string{"read", "--emit", "events", clean}, code: exitUsage, stderr: []string{"--emit", "events"}},
		{name: "bad learn-for", args: []string{"read", "--learn-for", "-1h", clean}, code: exitUsage, stderr: []string{"--learn-for"}},
		{name: "unknown command", args: []string{"listen"}, code: exitUsage, stderr: []string{"listen"}},
		{name: "flags after files", args: []string{"read", clean, "--emit", "stats"}, code: exitOK, wantStats: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := sensor(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr does not mention %q:\n%s", s, stderr)
				}
			}
			stats := ofType(records(t, out), "stats")
			if tt.wantStats != (len(stats) == 1) {
				t.Fatalf("%d stats records, want stats %v", len(stats), tt.wantStats)
			}
			if tt.wantStats {
				if p, _ := stats[0]["packets"].(float64); p < tt.minPackets {
					t.Errorf("stats packets %v, want at least %v", p, tt.minPackets)
				}
			}
		})
	}
}

func TestOutFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "records.jsonl")
	stdout, stderr, code := sensor(t, "read", "--out", out, "--emit", "asset", capture(t, "clean.pcap"))
	if code != exitOK || stdout != "" {
		t.Fatalf("exit %d stdout %q stderr %s", code, stdout, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[any]bool{}
	for _, a := range ofType(records(t, string(data)), "asset") {
		ids[a["id"]] = true
	}
	if len(ids) != 5 {
		t.Errorf("%d assets in --out file, want 5", len(ids))
	}
	if _, stderr, code := sensor(t, "read", "--out", filepath.Join(t.TempDir(), "no", "such", "dir", "x"), capture(t, "clean.pcap")); code != exitCantCreate {
		t.Errorf("--out into a missing directory: exit %d, want %d: %s", code, exitCantCreate, stderr)
	}
}

func TestVersionAndHelp(t *testing.T) {
	if out, _, code := sensor(t, "version"); code != exitOK || !strings.HasPrefix(out, "sensor ") {
		t.Errorf("version: %d %q", code, out)
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"help", "read"}, {"read", "--help"}} {
		if out, _, code := sensor(t, args...); code != exitOK || !strings.Contains(out, "Usage") {
			t.Errorf("%v: %d %q", args, code, out)
		}
	}
}
