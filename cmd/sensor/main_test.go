package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tapwire/tapwire/drivers/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// sensor runs the command in-process and returns stdout, stderr and the
// exit code.
func sensor(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// records parses JSON Lines output, failing on anything that is not one
// JSON object per line with "type" first.
func records(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, `{"type":"`) {
			t.Fatalf("record does not start with type: %s", line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		for k, v := range m {
			if v == nil || v == "" {
				t.Fatalf("key %q without a value in %s", k, line)
			}
		}
		recs = append(recs, m)
	}
	return recs
}

func ofType(recs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["type"] == typ {
			out = append(out, r)
		}
	}
	return out
}

func capture(t *testing.T, name string) string {
	t.Helper()
	return testenv.Testdata(t, "modbus", name)
}

// relPaths makes the capture paths in the output relative to the
// repository root, so golden files do not depend on where it is checked out.
func relPaths(t *testing.T, out string) string {
	return strings.ReplaceAll(out, testenv.RepoRoot(t)+string(filepath.Separator), "")
}

// golden compares got with testdata/golden/name, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/sensor -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("output differs from %s at line %d:\n got %s\nwant %s\n(review, then go test ./cmd/sensor -run %s -update)", path, i+1, g, w, t.Name())
			}
		}
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds the sensor once for tests that need separate processes.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tapwire-sensor-test")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "sensor")
		if runtime.GOOS == "windows" {
			binPath += ".exe"
		}
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func replaceAll(s, old, new string) string { return strings.ReplaceAll(s, old, new) }

// asJSON is a record as canonical JSON (sorted keys).
func asJSON(r map[string]any) string {
	b, _ := json.Marshal(r)
	return string(b)
}

func testdataCapture(tb testing.TB, name string) string {
	tb.Helper()
	return testenv.Testdata(tb, "modbus", name)
}
