package pcapfile

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/tapwire/tapwire/drivers"
)

func TestMulti(t *testing.T) {
	dir := t.TempDir()
	f := ethFrame
	good1 := newPcap(le, true, 65535, 1).pkt(1, 1, f(1)).pkt(1, 2, f(2)).b
	damaged := newPcap(le, false, 65535, 1).pkt(2, 1, f(3)).pkt(2, 2, f(4)).b
	damaged = damaged[:len(damaged)-10]
	good2 := newNg(be).idb(101, 0, newNg(be).opt(optTSResol, []byte{9})).epb(0, 3e9, f(5)[14:]).b
	unsupported := newPcap(le, false, 65535, 147).pkt(4, 0, f(6)).b
	paths := []string{
		writeFile(t, "good1.pcap", good1),
		writeFile(t, "damaged.pcap", damaged),
		filepath.Join(dir, "missing.pcap"),
		writeFile(t, "good2.pcapng", good2),
		writeFile(t, "user0.pcap", unsupported),
	}
	type report struct {
		path string
		err  error
	}
	var reports []report
	m := NewMulti(paths, func(path string, err error) { reports = append(reports, report{path, err}) })
	got, err := readAll(m)
	if err != nil {
		t.Fatal(err)
	}
	want := []frame{
		{Data: f(1), TS: 1000000001, OrigLen: 60, Link: drivers.LinkEthernet, Input: 0},
		{Data: f(2), TS: 1000000002, OrigLen: 60, Link: drivers.LinkEthernet, Input: 0},
		{Data: f(3), TS: 2000001000, OrigLen: 60, Link: drivers.LinkEthernet, Input: 1},
		{Data: f(5)[14:], TS: 3e9, OrigLen: 46, Link: drivers.LinkRaw, Input: 3},
	}
	if g, w := summary(got, nil), summary(want, nil); g != w {
		t.Errorf("frames:\n%s\nwant:\n%s", g, w)
	}
	if len(reports) != 3 ||
		reports[0].path != paths[1] || !errors.Is(reports[0].err, drivers.ErrDamaged) ||
		reports[1].path != paths[2] || !errors.Is(reports[1].err, fs.ErrNotExist) ||
		reports[2].path != paths[4] || !errors.Is(reports[2].err, drivers.ErrUnsupportedLink) {
		t.Errorf("reports: %v", reports)
	}
	res := m.Results()
	wantRes := []struct {
		packets uint64
		err     error
	}{{2, nil}, {1, drivers.ErrDamaged}, {0, fs.ErrNotExist}, {1, nil}, {0, drivers.ErrUnsupportedLink}}
	if len(res) != len(wantRes) {
		t.Fatalf("%d results, want %d", len(res), len(wantRes))
	}
	for i, w := range wantRes {
		if r := res[i]; r.Path != paths[i] || r.Packets != w.packets || !isKind(r.Err, w.err) {
			t.Errorf("result %d: %+v, want %d packets, error %v", i, r, w.packets, w.err)
		}
	}
	if res[0].Bytes != 120 || res[3].Bytes != 46 {
		t.Errorf("bytes %d and %d", res[0].Bytes, res[3].Bytes)
	}
	if err := m.Next(&drivers.Frame{}); err != io.EOF {
		t.Errorf("Next after the last file: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Error(err)
	}
}

func TestMultiClose(t *testing.T) {
	p := writeFile(t, "a.pcap", newPcap(le, false, 65535, 1).pkt(1, 0, ethFrame(1)).pkt(2, 0, ethFrame(2)).b)
	m := NewMulti([]string{p, p}, nil)
	var f drivers.Frame
	if err := m.Next(&f); err != nil {
		t.Fatal(err)
	}
	if res := m.Results(); len(res) != 1 || res[0].Packets != 1 || res[0].Err != nil {
		t.Errorf("results while reading: %+v", res)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Next(&f); err != io.EOF {
		t.Errorf("Next after Close: %v", err)
	}
	if res := m.Results(); len(res) != 1 || res[0].Packets != 1 {
		t.Errorf("results after Close: %+v", res)
	}
}

func TestMultiEmpty(t *testing.T) {
	m := NewMulti(nil, nil)
	if err := m.Next(&drivers.Frame{}); err != io.EOF {
		t.Errorf("got %v", err)
	}
	if len(m.Results()) != 0 {
		t.Error("results without files")
	}
}
