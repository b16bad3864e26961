package pcapfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapwire/tapwire/drivers"
)

// sharedPcaps finds the public captures: ../shared/pcaps next to the
// repository root (the directory holding go.mod).
func sharedPcaps(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	pcaps := filepath.Join(dir, "..", "shared", "pcaps")
	if fi, err := os.Stat(pcaps); err != nil || !fi.IsDir() {
		missing(t, "public captures not found at ../shared/pcaps next to the repository root")
	}
	return pcaps
}

// encapsulations are capinfos' names of the link types the sensor decodes.
var encapsulations = map[string]bool{
	"ether": true, "rawip": true, "loop": true, "null": true,
	"linux-sll": true, "linux-sll2": true, "rawip4": true, "rawip6": true,
}

// TestPublicCaptures reads every pcap and pcapng file of the shared
// captures and expects the packet count Wireshark reads, the damage
// where Wireshark finds damage, and ErrUnsupportedLink for link types the
// sensor does not decode.
func TestPublicCaptures(t *testing.T) {
	root := sharedPcaps(t)
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(p); !d.IsDir() && (ext == ".pcap" || ext == ".pcapng") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		missing(t, "no .pcap or .pcapng files under %s", root)
	}
	want := wiresharkCounts(t, files)
	var packets, damaged, unsupported int
	for _, p := range files {
		name, _ := filepath.Rel(root, p)
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			w := want[p]
			got, err := readFile(t, p)
			switch {
			case w.encap != "" && !encapsulations[w.encap]:
				unsupported++
				if !errors.Is(err, drivers.ErrUnsupportedLink) {
					t.Errorf("link type %q: got %d frames and %v, want ErrUnsupportedLink", w.encap, len(got), err)
				}
				return
			case w.failed:
				damaged++
				if !errors.Is(err, drivers.ErrDamaged) {
					t.Errorf("Wireshark finds damage; we got %v", err)
				}
			case err != nil:
				t.Errorf("unexpected error: %v", err)
			}
			if len(got) != w.packets {
				t.Errorf("read %d packets, Wireshark %d", len(got), w.packets)
			}
			packets += len(got)
		})
	}
	t.Logf("%d files, %d packets; %d damaged, %d of an unsupported link type", len(files), packets, damaged, unsupported)
}
