package pcapfile

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// External references (Wireshark's capinfos, the shared captures) are
// optional on a developer's machine and required in CI: without them a
// test skips, unless TAPWIRE_CI=1, where it fails.

func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("TAPWIRE_CI") == "1" {
		t.Fatalf(format+" (required with TAPWIRE_CI=1)", args...)
	}
	t.Skipf(format, args...)
}

// capinfos returns the path of Wireshark's capinfos.
func capinfos(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("capinfos")
	if err != nil {
		missing(t, "capinfos (Wireshark) is not installed: cannot compare packet counts with Wireshark")
	}
	return p
}

// wiresharkCount is what capinfos says of one file.
type wiresharkCount struct {
	packets int    // -1: capinfos printed no count
	encap   string // capinfos' short name of the link type
	failed  bool   // capinfos reported an error (damage, unreadable)
}

var capinfosError = regexp.MustCompile(`(?m)^capinfos: .*"(.+)"`)

// countWithCapinfos runs capinfos once over many files.
func countWithCapinfos(t *testing.T, files []string) map[string]wiresharkCount {
	t.Helper()
	bin := capinfos(t)
	res := make(map[string]wiresharkCount)
	for len(files) > 0 {
		batch := files[:min(len(files), 100)]
		files = files[len(batch):]
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, append([]string{"-M", "-T", "-E", "-c"}, batch...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("capinfos: %v", err)
		}
		for _, f := range batch {
			res[f] = wiresharkCount{packets: -1}
		}
		for _, line := range strings.Split(stdout.String(), "\n")[1:] {
			fields := strings.Split(line, "\t")
			if len(fields) != 3 {
				continue
			}
			n, err := strconv.Atoi(fields[2])
			if err != nil {
				n = -1
			}
			res[fields[0]] = wiresharkCount{packets: n, encap: fields[1]}
		}
		for _, m := range capinfosError.FindAllStringSubmatch(stderr.String(), -1) {
			c := res[m[1]]
			c.failed = true
			res[m[1]] = c
		}
	}
	return res
}

// TestAgreesWithWireshark checks the hand-made cases against capinfos:
// tolerated files read whole there too, and damaged ones fail there after
// the same number of packets.
func TestAgreesWithWireshark(t *testing.T) {
	dir := t.TempDir()
	var files []string
	want := make(map[string]wiresharkCount)
	name := make(map[string]string)
	add := func(i int, c string, data []byte, n int, failed bool) {
		p := filepath.Join(dir, strconv.Itoa(i)+".cap")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		want[p] = wiresharkCount{packets: n, failed: failed}
		name[p] = c
	}
	for i, c := range okCases() {
		add(i, c.name, c.data, c.want, false)
	}
	for i, c := range damageCases() {
		add(1000+i, c.name, c.data, c.want, true)
	}
	got := wiresharkCounts(t, files)
	for _, p := range files {
		if g, w := got[p], want[p]; g.failed != w.failed || g.packets != w.packets {
			t.Errorf("%s: Wireshark reads %d packets (error: %v), we read %d (damaged: %v)",
				name[p], g.packets, g.failed, w.packets, w.failed)
		}
	}
}

// wiresharkCounts says how many packets Wireshark reads from each file,
// and whether it then fails.
func wiresharkCounts(t *testing.T, files []string) map[string]wiresharkCount {
	t.Helper()
	got := countWithCapinfos(t, files)
	// capinfos counts nothing in a file it finds corrupt (rather than cut
	// short): count what editcap copies of it before the damage.
	copies := make(map[string]string)
	var copied []string
	for _, p := range files {
		if g := got[p]; g.packets == -1 && g.failed {
			copies[p] = copyWithEditcap(t, p)
			copied = append(copied, copies[p])
		}
	}
	counted := countWithCapinfos(t, copied)
	for p, c := range copies {
		g := got[p]
		// No count: editcap failed before it wrote a file.
		g.packets = max(counted[c].packets, 0)
		got[p] = g
	}
	return got
}

// copyWithEditcap copies the packets of path that Wireshark reads before
// any damage into a new pcapng file.
func copyWithEditcap(t *testing.T, path string) string {
	t.Helper()
	bin, err := exec.LookPath("editcap")
	if err != nil {
		missing(t, "editcap (Wireshark) is not installed: cannot compare packet counts with Wireshark")
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path)+".pcapng")
	// editcap reports damage on stderr and copies what came before it.
	if msg, err := exec.Command(bin, "-F", "pcapng", path, out).CombinedOutput(); err != nil && len(msg) == 0 {
		t.Fatalf("editcap %s: %v", path, err)
	}
	return out
}
