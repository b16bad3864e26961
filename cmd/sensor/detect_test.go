package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

type alertSummary struct {
	kind, src, asset string
	attack           []string
	count            float64
}

// alertsOf returns the final state of every alert (the last record of each
// id), sorted by kind.
func alertsOf(t *testing.T, out string) []alertSummary {
	t.Helper()
	last := map[string]map[string]any{}
	for _, r := range ofType(records(t, out), "alert") {
		last[r["id"].(string)] = r
	}
	var as []alertSummary
	for _, r := range last {
		a := alertSummary{kind: r["kind"].(string), src: r["src"].(string), asset: r["asset"].(string), count: r["count"].(float64)}
		for _, x := range r["attack"].([]any) {
			a.attack = append(a.attack, x.(string))
		}
		as = append(as, a)
	}
	sort.Slice(as, func(i, j int) bool { return as[i].kind < as[j].kind })
	return as
}

// The attacks tapgen injects (see testdata/modbus/README.md) and what each
// must raise.
var wantAttacks = []alertSummary{
	{kind: "modbus_exception_burst", src: "10.10.9.68", asset: "ip:10.10.2.2", attack: []string{"T0846", "T0814"}},
	{kind: "modbus_listen_only", src: "10.10.9.69", asset: "ip:10.10.2.1", attack: []string{"T0814", "T0804"}},
	{kind: "modbus_new_writer", src: "10.10.9.66", asset: "ip:10.10.2.1", attack: []string{"T0855", "T0836"}},
	{kind: "modbus_restart", src: "10.10.9.67", asset: "ip:10.10.2.3", attack: []string{"T0816"}},
}

func checkAttacks(t *testing.T, got []alertSummary) {
	t.Helper()
	if len(got) != len(wantAttacks) {
		t.Fatalf("%d alerts %+v, want %d", len(got), got, len(wantAttacks))
	}
	for i, w := range wantAttacks {
		g := got[i]
		if g.kind != w.kind || g.src != w.src || g.asset != w.asset || !slices.Equal(g.attack, w.attack) || g.count < 1 {
			t.Errorf("alert %+v, want %+v", g, w)
		}
	}
}

func TestAttacksRaiseTheirKinds(t *testing.T) {
	out, stderr, code := sensor(t, "read", "--learn-for", "40s", "--emit", "alert", capture(t, "attacks.pcap"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := alertsOf(t, out)
	checkAttacks(t, got)
	// The scan answered 244 exceptions; the new writer wrote three times.
	for _, a := range got {
		switch a.kind {
		case "modbus_exception_burst":
			if a.count != 244 {
				t.Errorf("exception burst count %v, want 244", a.count)
			}
		case "modbus_new_writer":
			if a.count != 3 {
				t.Errorf("new writer count %v, want 3", a.count)
			}
		}
	}
}

func TestNoAttackNoAlert(t *testing.T) {
	for _, name := range []string{"clean.pcap", "learn.pcap", "split.pcap", "coalesce.pcap", "retransmit.pcap", "lose.pcap", "reorder.pcap", "port1502.pcap", "impaired.pcap"} {
		t.Run(name, func(t *testing.T) {
			out, stderr, code := sensor(t, "read", "--learn-for", "40s", "--emit", "alert,stats", capture(t, name))
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if a := alertsOf(t, out); len(a) != 0 {
				t.Errorf("alerts on traffic without attacks: %+v", a)
			}
		})
	}
}

func TestLearnModeNeverAlerts(t *testing.T) {
	out, _, code := sensor(t, "read", "--mode", "learn", "--emit", "alert", capture(t, "attacks.pcap"))
	if code != exitOK || len(alertsOf(t, out)) != 0 {
		t.Fatalf("exit %d, alerts in learn mode: %s", code, out)
	}
}

func TestExceptionBurstThresholdFromConfig(t *testing.T) {
	cfg := writeFile(t, "c.yaml", "version: 1\ndetect:\n  learn_for: 40s\n  modbus_exception_burst:\n    window: 10s\n    threshold: 300\n")
	out, stderr, code := sensor(t, "read", "--config", cfg, "--emit", "alert", capture(t, "attacks.pcap"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, a := range alertsOf(t, out) {
		if a.kind == "modbus_exception_burst" {
			t.Errorf("burst alert with a threshold of 300 for 244 exceptions: %+v", a)
		}
	}
}

// TestLearnThenDetectAcrossProcesses learns on one capture into a state
// directory with one process, then detects on others with new processes.
func TestLearnThenDetectAcrossProcesses(t *testing.T) {
	bin := binary(t)
	state := filepath.Join(t.TempDir(), "state")
	runBin := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sensor %v: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	out := runBin("read", "--mode", "learn", "--state", state, "--emit", "alert,stats", capture(t, "learn.pcap"))
	if a := alertsOf(t, out); len(a) != 0 {
		t.Fatalf("alerts while learning: %+v", a)
	}
	// The same plant on another day: nothing new.
	out = runBin("read", "--mode", "detect", "--state", state, "--emit", "alert,asset,stats", capture(t, "clean.pcap"))
	if a := alertsOf(t, out); len(a) != 0 {
		t.Errorf("alerts on clean traffic after learning: %+v", a)
	}
	stats := ofType(records(t, out), "stats")
	if len(stats) != 1 || stats[0]["assets"].(float64) != 5 || stats[0]["mode"] != "detect" {
		t.Errorf("stats after detect on clean traffic: %v", stats)
	}
	// The attacks: each raises its kind.
	out = runBin("read", "--mode", "detect", "--state", state, "--emit", "alert", capture(t, "attacks.pcap"))
	checkAttacks(t, alertsOf(t, out))
	// Without the learned state the legitimate writer is new too.
	out = runBin("read", "--mode", "detect", "--emit", "alert", capture(t, "clean.pcap"))
	found := false
	for _, a := range alertsOf(t, out) {
		if a.kind == "modbus_new_writer" && a.src == "10.10.1.2" {
			found = true
		}
	}
	if !found {
		t.Errorf("detect without a learned state did not flag the writing master 10.10.1.2")
	}
}
