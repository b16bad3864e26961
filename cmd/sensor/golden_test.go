package main

import (
	"path/filepath"
	"testing"

	"github.com/tapwire/tapwire/drivers/testenv"
)

// Golden tests of the JSON output: regenerate with -update and review the
// diff.
func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		shared string // a capture under ../shared/pcaps instead
	}{
		{name: "attacks.jsonl", args: []string{"--learn-for", "40s", "--emit", "asset,alert,stats", capture(t, "attacks.pcap")}},
		{name: "lose-stats.jsonl", args: []string{"--emit", "stats", capture(t, "lose.pcap")}},
		{name: "impaired-alerts.jsonl", args: []string{"--learn-for", "40s", "--emit", "alert,stats", capture(t, "impaired.pcap")}},
		{name: "site.jsonl", args: []string{"--sensor", "s1", "--site", "plant-a", "--emit", "asset", capture(t, "clean.pcap")}},
		{name: "quickdraw-part1.jsonl", shared: "iti/ModbusTCP/modbus_test_data_part1.pcap"},
		{name: "rtu.jsonl", args: []string{"--emit", "asset,alert,stats", capture(t, "rtu.pcapng")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"read"}, tt.args...)
			if tt.shared != "" {
				args = append(args, filepath.Join(testenv.Shared(t, "pcaps"), tt.shared))
			}
			out, stderr, code := sensor(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			records(t, out)
			if tt.shared != "" {
				out = relShared(t, out)
			}
			golden(t, tt.name, relPaths(t, out))
		})
	}
}

func relShared(t *testing.T, out string) string {
	return replaceAll(out, filepath.Dir(testenv.RepoRoot(t))+string(filepath.Separator), "")
}
