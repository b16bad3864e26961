//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tapwire/tapwire/drivers/testenv"
)

// netnsPair creates two network namespaces joined by a veth pair (up, no
// addresses) and removes them when the test ends. It returns the
// namespaces' names and the interface in each.
func netnsPair(t *testing.T) (nsA, ifA, nsB, ifB string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "live capture tests need root (network namespaces, AF_PACKET)")
	}
	ip := testenv.Tool(t, "ip")
	tag := fmt.Sprintf("tw%d%d", os.Getpid()%10000, time.Now().UnixNano()%1000)
	nsA, nsB = tag+"a", tag+"b"
	ifA, ifB = tag+"va", tag+"vb"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	run("netns", "add", nsA)
	t.Cleanup(func() { exec.Command(ip, "netns", "del", nsA).Run() })
	run("netns", "add", nsB)
	t.Cleanup(func() { exec.Command(ip, "netns", "del", nsB).Run() })
	run("link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	run("-n", nsA, "link", "set", ifA, "up")
	run("-n", nsB, "link", "set", ifB, "up")
	run("-n", nsA, "link", "set", "lo", "up")
	run("-n", nsB, "link", "set", "lo", "up")
	// veth attaches its queue when the kernel's link watch runs: wait for
	// both ends to be up with their qdisc, or the first frames are lost.
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range [][2]string{{nsA, ifA}, {nsB, ifB}} {
		for {
			out, _ := exec.Command(ip, "-n", p[0], "link", "show", p[1]).Output()
			if bytes.Contains(out, []byte("state UP")) && bytes.Contains(out, []byte("qdisc noqueue")) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s in %s did not come up: %s", p[1], p[0], out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nsA, ifA, nsB, ifB
}

// liveRun starts `sensor run` in namespace ns capturing iface, replays
// pcap into the other end with tcpreplay, stops the sensor with SIGINT and
// returns its records.
func liveRun(t *testing.T, pcap string, extra ...string) []map[string]any {
	t.Helper()
	tcpreplay := testenv.Tool(t, "tcpreplay")
	bin := binary(t)
	nsA, ifA, nsB, ifB := netnsPair(t)
	out := filepath.Join(t.TempDir(), "run.jsonl")
	args := append([]string{"netns", "exec", nsB, bin, "run", "--iface", ifB, "--out", out, "--emit", "event,stats"}, extra...)
	cmd, stderr := startSensor(t, "ip", args...)
	waitLog(t, stderr, "sensor running")
	rep := exec.Command("ip", "netns", "exec", nsA, tcpreplay, "-q", "--topspeed", "-i", ifA, pcap)
	if o, err := rep.CombinedOutput(); err != nil {
		t.Fatalf("tcpreplay: %v\n%s", err, o)
	}
	// The ring hands over a block at the latest after its retire timeout.
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sensor run: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("sensor did not stop on SIGINT:\n%s", stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return records(t, string(data))
}

// flowKey names the TCP connection of an event, either direction.
func flowOf(r map[string]any) string {
	a, b := r["src"].(string), r["dst"].(string)
	if a > b {
		a, b = b, a
	}
	return a + " " + b
}

// sameEventsPerFlow checks that live has the events of offline, all keys
// equal except ts, in order within each flow.
func sameEventsPerFlow(t *testing.T, live, offline []map[string]any) {
	t.Helper()
	group := func(recs []map[string]any) map[string][]string {
		m := map[string][]string{}
		for _, r := range recs {
			if r["type"] != "event" {
				continue
			}
			c := map[string]any{}
			for k, v := range r {
				if k != "ts" {
					c[k] = v
				}
			}
			j, _ := json.Marshal(c)
			m[flowOf(r)] = append(m[flowOf(r)], string(j))
		}
		return m
	}
	l, o := group(live), group(offline)
	if len(l) != len(o) {
		t.Errorf("%d flows live, %d offline", len(l), len(o))
	}
	total := 0
	for flow, oe := range o {
		le := l[flow]
		total += len(oe)
		if len(le) != len(oe) {
			t.Errorf("flow %s: %d events live, %d offline", flow, len(le), len(oe))
			continue
		}
		for i := range oe {
			if le[i] != oe[i] {
				t.Errorf("flow %s event %d:\n live    %s\n offline %s", flow, i, le[i], oe[i])
				break
			}
		}
	}
	if total == 0 {
		t.Error("no events to compare")
	}
	t.Logf("%d events in %d flows compared", total, len(o))
}

// TestRunMatchesRead replays generated captures into a veth pair and
// checks that `sensor run` on the other end finds every event `sensor
// read` finds in the file, with one capture worker and with fanout groups.
func TestRunMatchesRead(t *testing.T) {
	tests := []struct {
		pcap    string
		workers string
	}{
		{"clean.pcap", "1"},
		{"attacks.pcap", "1"},
		{"impaired.pcap", "1"},
		{"clean.pcap", "2"},
		{"attacks.pcap", "4"},
	}
	for _, tt := range tests {
		t.Run(tt.pcap+"/workers="+tt.workers, func(t *testing.T) {
			pcap := capture(t, tt.pcap)
			offline, stderr, code := sensor(t, "read", "--emit", "event", pcap)
			if code != exitOK {
				t.Fatalf("read: %d %s", code, stderr)
			}
			live := liveRun(t, pcap, "--workers", tt.workers)
			sameEventsPerFlow(t, live, ofType(records(t, offline), "event"))
			stats := ofType(live, "stats")
			if len(stats) == 0 {
				t.Fatal("no stats record")
			}
			last := stats[len(stats)-1]
			in := last["inputs"].([]any)[0].(map[string]any)
			if in["kind"] != "interface" || in["drops"].(float64) != 0 {
				t.Errorf("input stats %v", in)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no input", []string{"run"}, exitUsage, "nothing to capture"},
		{"missing interface", []string{"run", "--iface", "tw-no-such-if0"}, exitConfig, "tw-no-such-if0"},
		{"bad workers", []string{"run", "--iface", "lo", "--workers", "0"}, exitUsage, "--workers"},
		{"file argument", []string{"run", "capture.pcap"}, exitUsage, "sensor read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := sensor(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
		})
	}
}

// TestRunReloadStatsMetrics: periodic stats records, the Prometheus
// endpoint, SIGHUP applying detection and output settings and naming those
// that need a restart, and a clean stop.
func TestRunReloadStatsMetrics(t *testing.T) {
	bin := binary(t)
	_, _, nsB, ifB := netnsPair(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sensor.yaml")
	out := filepath.Join(dir, "run.jsonl")
	writeCfg := func(body string) {
		if err := os.WriteFile(cfgPath, []byte("version: 1\nrun:\n  stats_interval: 300ms\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg("")
	cmd, stderr := startSensor(t, "ip", "netns", "exec", nsB, bin, "run", "--config", cfgPath, "--iface", ifB,
		"--out", out, "--emit", "stats", "--metrics", "127.0.0.1:0", "--state", filepath.Join(dir, "state"))
	waitLog(t, stderr, "sensor running")
	// The metrics address is in the log; fetch it inside the namespace.
	var addr string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if i := strings.Index(line, "msg=\"serving metrics\" addr="); i >= 0 {
			addr = strings.TrimSpace(line[i+len("msg=\"serving metrics\" addr="):])
		}
	}
	if addr == "" {
		t.Fatalf("no metrics address in the log:\n%s", stderr.String())
	}
	time.Sleep(time.Second) // a few stats intervals
	metricsBody := fetchInNetns(t, nsB, "http://"+addr+"/metrics")
	for _, want := range []string{"tapwire_packets_total", `tapwire_input_drops_total{input="` + ifB + `"}`, "tapwire_assets"} {
		if !strings.Contains(metricsBody, want) {
			t.Errorf("metrics lack %s:\n%s", want, metricsBody)
		}
	}
	// SIGHUP: a detection threshold (applied) and the worker count (restart).
	writeCfg("detect:\n  modbus_exception_burst:\n    threshold: 5\ncapture:\n  workers: 2\n")
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, stderr, "config reloaded")
	waitLog(t, stderr, "need a restart")
	if !strings.Contains(stderr.String(), "settings=capture") {
		t.Errorf("the restart warning does not name capture:\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sensor run: %v\n%s", err, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ofType(records(t, string(data)), "stats")); n < 3 {
		t.Errorf("%d stats records in about 1.5 s at a 300 ms interval", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); err != nil {
		t.Errorf("state not saved: %v", err)
	}
}

// fetchInNetns GETs url from inside namespace ns with the sensor test
// binary's helper mode (a Go HTTP client on a thread in that namespace).
func fetchInNetns(t *testing.T, ns, url string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=TestHelperFetch", "--", url).CombinedOutput()
	if err != nil {
		t.Fatalf("fetch %s: %v\n%s", url, err, out)
	}
	return string(out)
}

// TestHelperFetch is not a test: fetchInNetns runs the test binary with it
// inside a namespace to GET the URL after "--".
func TestHelperFetch(t *testing.T) {
	var url string
	for i, a := range os.Args {
		if a == "--" && i+1 < len(os.Args) {
			url = os.Args[i+1]
		}
	}
	if url == "" {
		t.Skip("helper for fetchInNetns")
	}
	resp, err := http.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	os.Exit(0)
}

// startSensor starts a sensor process; its log is kept for waitLog.
func startSensor(t *testing.T, name string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(name, args...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, stderr
}

// waitLog waits until the process log has what in it.
func waitLog(t *testing.T, log *syncBuffer, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(log.String(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", what, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tcpPort1502 is `tcpdump -ddd 'tcp port 1502'`.
const tcpPort1502 = "20 40 0 0 12 21 0 6 34525 48 0 0 20 21 0 15 6 40 0 0 54 21 12 0 1502 40 0 0 56 21 10 11 1502 " +
	"21 0 10 2048 48 0 0 23 21 0 8 6 40 0 0 20 69 6 0 8191 177 0 0 14 72 0 0 14 21 2 0 1502 72 0 0 16 21 0 1 1502 " +
	"6 0 0 262144 6 0 0 0"

// TestRunBPF: the capture filter of the config keeps what it matches only.
func TestRunBPF(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bpf.yaml")
	if err := os.WriteFile(cfg, []byte("version: 1\ncapture:\n  bpf: \""+tcpPort1502+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	live := liveRun(t, capture(t, "port1502.pcap"), "--config", cfg)
	if n := len(ofType(live, "event")); n != 1300 {
		t.Errorf("%d events through a filter matching all the capture, want 1300", n)
	}
	live = liveRun(t, capture(t, "clean.pcap"), "--config", cfg)
	if n := len(ofType(live, "event")); n != 0 {
		t.Errorf("%d events through a filter matching none of the capture", n)
	}
	if _, stderr, code := sensor(t, "run", "--iface", "lo", "--config", writeFile(t, "bad.yaml", "version: 1\ncapture:\n  bpf: \"2 1 2\"\n")); code != exitConfig || !strings.Contains(stderr, "capture.bpf") {
		t.Errorf("a bad filter: exit %d, stderr %s", code, stderr)
	}
}
