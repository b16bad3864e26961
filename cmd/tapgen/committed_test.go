package main

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed captures under testdata/modbus")

// committedDir holds the captures, relative to this package.
const committedDir = "../../testdata/modbus"

// committedFiles is every file the README must list a command for.
var committedFiles = []string{
	"clean.pcap",
	"attacks.pcap",
	"learn.pcap",
	"split.pcap",
	"coalesce.pcap",
	"retransmit.pcap",
	"lose.pcap", "lose.truth.jsonl", // which PDUs the capture lost
	"reorder.pcap",
	"port1502.pcap",
	"impaired.pcap", "impaired.truth.jsonl",
	"rtu.pcapng", // a Modbus RTU line as the serial tap writes it
}

const readmeCmd = "go run ./cmd/tapgen "

// readmeCommands returns the tapgen argument lists the README documents.
func readmeCommands(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(committedDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, readmeCmd) {
			out = append(out, strings.Fields(strings.TrimPrefix(line, readmeCmd)))
		}
	}
	return out
}

// outputs rewrites the -o and -truth paths of args into dir and returns
// the new arguments and the files they write (base names).
func outputs(t *testing.T, args []string, dir string) ([]string, []string) {
	t.Helper()
	args = slices.Clone(args)
	var files []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-o" || args[i] == "-truth" {
			if filepath.Dir(args[i+1]) != "testdata/modbus" {
				t.Fatalf("README command writes %s outside testdata/modbus", args[i+1])
			}
			base := filepath.Base(args[i+1])
			files = append(files, base)
			args[i+1] = filepath.Join(dir, base)
		}
	}
	return args, files
}

// TestCommittedCaptures regenerates every committed capture from the
// command its README gives and compares byte for byte; with -update it
// writes them instead.
func TestCommittedCaptures(t *testing.T) {
	cmds := readmeCommands(t)
	var listed []string
	for _, args := range cmds {
		dir := t.TempDir()
		if *update {
			dir = committedDir
		}
		args, files := outputs(t, args, dir)
		listed = append(listed, files...)
		t.Run(files[0], func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != exitOK {
				t.Fatalf("tapgen %v: exit %d\n%s", args, code, stderr.String())
			}
			if *update {
				return
			}
			for _, f := range files {
				got, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(filepath.Join(committedDir, f))
				if err != nil {
					t.Fatalf("%v (run go test ./cmd/tapgen -run TestCommittedCaptures -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from what tapgen generates now; review the change and run go test ./cmd/tapgen -run TestCommittedCaptures -update", f)
				}
			}
		})
	}
	slices.Sort(listed)
	want := slices.Sorted(slices.Values(committedFiles))
	if !slices.Equal(listed, want) {
		t.Errorf("README commands write %v, want %v", listed, want)
	}
	// Nothing else lies in the directory, and the budget holds.
	entries, err := os.ReadDir(committedDir)
	if err != nil {
		t.Fatal(err)
	}
	var pcapTotal int64
	for _, e := range entries {
		if e.Name() == "README.md" {
			continue
		}
		if !slices.Contains(committedFiles, e.Name()) {
			t.Errorf("%s is not produced by a README command", e.Name())
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), ".pcap") {
			pcapTotal += info.Size()
			if info.Size() > 220<<10 {
				t.Errorf("%s: %d bytes, keep captures under ~200 KB", e.Name(), info.Size())
			}
		}
	}
	if pcapTotal > 2<<20 {
		t.Errorf("captures total %d bytes, keep them under 2 MB", pcapTotal)
	}
}
