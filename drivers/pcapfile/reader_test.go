package pcapfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapwire/tapwire/drivers"
)

var allLinks = []drivers.LinkType{
	drivers.LinkEthernet, drivers.LinkRaw, drivers.LinkSLL, drivers.LinkSLL2,
	drivers.LinkIPv4, drivers.LinkIPv6, drivers.LinkNull, drivers.LinkLoop,
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte // nil: the file does not exist
		want error
		msg  string // the message after "PATH: "
	}{
		{name: "missing", want: fs.ErrNotExist, msg: "no such file or directory"},
		{name: "text", data: []byte("hello, this is not a capture\n"), want: drivers.ErrFormat,
			msg: "not a pcap or pcapng file (it starts with 68 65 6c 6c)"},
		{name: "three bytes", data: []byte{0xd4, 0xc3, 0xb2}, want: drivers.ErrFormat,
			msg: "too short to be a capture file (3 bytes)"},
		{name: "gzip", data: []byte{0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0}, want: drivers.ErrFormat,
			msg: "gzip-compressed; decompress it first"},
		{name: "pcap version 1.0", data: func() []byte {
			b := newPcap(le, false, 65535, 1).b
			b[4], b[6] = 1, 0
			return b
		}(), want: drivers.ErrFormat, msg: "pcap version 1.0 is not supported"},
		{name: "pcapng version 2.0", data: (&ngFile{order: le}).shb(2, 0).idb(1, 0).b, want: drivers.ErrFormat,
			msg: "pcapng version 2.0 is not supported"},
		{name: "pcap header cut short", data: newPcap(le, false, 65535, 1).b[:10], want: drivers.ErrDamaged,
			msg: "cut short in the file header (got 10 of 24 bytes)"},
		{name: "pcapng section header cut short", data: newNg(le).b[:20], want: drivers.ErrDamaged,
			msg: "record 1: cut short in section header block (got 20 of 28 bytes)"},
		{name: "pcapng bad byte-order magic", data: func() []byte {
			b := newNg(le).b
			b[8] = 0
			return b
		}(), want: drivers.ErrDamaged, msg: "record 1: section header block has no valid byte-order magic (00 3c 2b 1a)"},
		{name: "unknown link type", data: newPcap(le, false, 65535, 147).pkt(1, 0, ethFrame(1)).b,
			want: drivers.ErrUnsupportedLink, msg: "unsupported link type LINKTYPE_147"},
		{name: "pcapng of unsupported interfaces", data: newNg(be).idb(195, 0).idb(147, 0).epb(0, 1, ethFrame(1)).b,
			want: drivers.ErrUnsupportedLink, msg: "unsupported link types LINKTYPE_195, LINKTYPE_147"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "capture.pcap")
			if tt.data != nil {
				path = writeFile(t, "capture.pcap", tt.data)
			}
			r, err := Open(path)
			if err == nil {
				r.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v does not wrap %v", err, tt.want)
			}
			if got, want := err.Error(), path+": "+tt.msg; got != want {
				t.Errorf("message\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestLinkTypes reads every link type the sensor decodes, from files
// written by pcapgo (nanosecond pcap, pcapng) and by hand (big-endian,
// microseconds).
func TestLinkTypes(t *testing.T) {
	frames := []frame{
		{Data: ethFrame(1), TS: 1700000000123456789, OrigLen: 60},
		{Data: ethFrame(2)[:40], TS: 1700000000999999999, OrigLen: 60}, // cut by the snap length
		{Data: ethFrame(3), TS: 1700000001000000000, OrigLen: 60},
	}
	for _, link := range allLinks {
		for _, kind := range []string{"pcapgo pcap", "pcapgo pcapng", "big-endian pcap"} {
			t.Run(link.String()+"/"+kind, func(t *testing.T) {
				var b []byte
				want := frames
				switch kind {
				case "pcapgo pcap":
					b = pcapgoFile(t, false, link, frames)
				case "pcapgo pcapng":
					b = pcapgoFile(t, true, link, frames)
				default:
					p := newPcap(be, false, 65535, uint32(link))
					want = nil
					for _, f := range frames {
						us := uint32(f.TS % 1e9 / 1e3)
						p.rec(uint32(f.TS/1e9), us, uint32(len(f.Data)), uint32(f.OrigLen), f.Data)
						f.TS = f.TS/1e9*1e9 + int64(us)*1e3
						want = append(want, f)
					}
					b = p.b
				}
				got, err := readFile(t, writeFile(t, "capture", b))
				if err != nil {
					t.Fatal(err)
				}
				checkFrames(t, got, want, link)
			})
		}
	}
}

func checkFrames(t *testing.T, got, want []frame, link drivers.LinkType) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		w := want[i]
		w.Link = link
		if g := got[i]; !bytes.Equal(g.Data, w.Data) || g.TS != w.TS || g.OrigLen != w.OrigLen || g.Link != w.Link || g.Input != w.Input {
			t.Errorf("frame %d:\n got %+v\nwant %+v", i+1, g, w)
		}
	}
}

// TestTimestamps checks packet times to the nanosecond. The expected values
// are tshark's frame.time_epoch for the same files.
func TestTimestamps(t *testing.T) {
	const ts = 1700000000123456789
	f := ethFrame(1)
	ng := func(opts ...[]byte) *ngFile {
		n := newNg(le)
		return n.idb(1, 0, opts...)
	}
	tests := []struct {
		name string
		data []byte
		want int64
	}{
		{"pcap microseconds", newPcap(le, false, 65535, 1).pkt(1700000000, 123456, f).b, 1700000000123456000},
		{"pcap nanoseconds", newPcap(le, true, 65535, 1).pkt(1700000000, 123456789, f).b, ts},
		{"pcap nanoseconds big-endian", newPcap(be, true, 65535, 1).pkt(1700000000, 123456789, f).b, ts},
		{"pcap microseconds big-endian", newPcap(be, false, 65535, 1).pkt(4000000000, 999999, f).b, 4000000000999999000},
		{"pcapng default resolution", ng().epb(0, ts/1000, f).b, 1700000000123456000},
		{"pcapng if_tsresol 10^-9", ng(newNg(le).opt(optTSResol, []byte{9})).epb(0, ts, f).b, ts},
		{"pcapng big-endian if_tsresol 10^-9", newNg(be).idb(1, 0, newNg(be).opt(optTSResol, []byte{9})).epb(0, ts, f).b, ts},
		{"pcapng if_tsresol 10^-12", ng(newNg(le).opt(optTSResol, []byte{12})).epb(0, ts, f).b, 1700000000123456},
		{"pcapng if_tsresol 2^-30", ng(newNg(le).opt(optTSResol, []byte{0x80 | 30})).epb(0, 1700000000<<30|1<<29, f).b, 1700000000500000000},
		{"pcapng if_tsresol 2^-20", ng(newNg(le).opt(optTSResol, []byte{0x80 | 20})).epb(0, 1700000000<<20|123457, f).b, 1700000000117737770},
		{"pcapng if_tsoffset", ng(newNg(le).opt(optTSOffset, le.AppendUint64(nil, uint64(1<<64-100)))).epb(0, ts/1000, f).b, 1699999900123456000},
		{"pcapng if_tsresol 2^-70 (tshark: 0)", ng(newNg(le).opt(optTSResol, []byte{0x80 | 70})).epb(0, ts, f).b, 0},
		{"pcapng if_tsresol 10^-20 (tshark: 0)", ng(newNg(le).opt(optTSResol, []byte{20})).epb(0, ts, f).b, 0},
		{"pcapng simple packet block (no time)", ng().spb(60, f).b, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readFile(t, writeFile(t, "capture", tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].TS != tt.want {
				t.Fatalf("got %+v, want one frame at %d", got, tt.want)
			}
		})
	}
}

// A damage case: the file reads to want frames, then fails with msg.
type damageCase struct {
	name string
	data []byte
	want int    // frames delivered before the damage
	msg  string // the message after "PATH: "
}

func damageCases() []damageCase {
	f := ethFrame(1)
	good := newPcap(le, false, 65535, 1).pkt(1, 0, f).pkt(2, 0, f)
	goodNano := newPcap(be, true, 65535, 1).pkt(1, 0, f).pkt(2, 0, f)
	ng := func() *ngFile { return newNg(le).idb(1, 0).epb(0, 1, f) }
	epb := ng().epb(0, 2, f).b // the second block starts at len(ng().b)
	second := len(ng().b)
	badMagic := newNg(le).idb(1, 0).epb(0, 2, f).b
	badMagic[11] = 0
	return []damageCase{
		{"pcap cut short in record header", good.b[:len(good.b)-len(f)-9], 1,
			"record 2: cut short in record header (got 7 of 16 bytes)"},
		{"pcap cut short in packet data", good.b[:len(good.b)-40], 1,
			"record 2: cut short in packet data (got 20 of 60 bytes)"},
		{"pcap cut short after a record header", good.b[:len(good.b)-60], 1,
			"record 2: cut short in packet data (got 0 of 60 bytes)"},
		{"nanosecond big-endian pcap cut short", goodNano.b[:len(goodNano.b)-1], 1,
			"record 2: cut short in packet data (got 59 of 60 bytes)"},
		{"pcap capture length absurd", newPcap(le, false, 0, 1).pkt(1, 0, f).rec(2, 0, 0x7fffff00, 0x7fffff00, f).b, 1,
			"record 2: capture length 2147483392 exceeds the maximum of 262144"},
		{"pcap capture length just above tshark's limit", newPcap(le, false, 0, 1).pkt(1, 0, f).pkt(2, 0, make([]byte, maxCapLen+1)).b, 1,
			"record 2: capture length 262145 exceeds the maximum of 262144"},
		{"pcapng cut short in block header", epb[:second+5], 1,
			"record 2: cut short in block header (got 5 of 8 bytes)"},
		{"pcapng cut short in enhanced packet block header", epb[:second+20], 1,
			"record 2: cut short in enhanced packet block header (got 20 of 28 bytes)"},
		{"pcapng cut short in packet data", epb[:second+28+38], 1,
			"record 2: cut short in packet data (got 38 of 60 bytes)"},
		{"pcapng cut short before the trailing length", epb[:len(epb)-2], 1,
			"record 2: cut short after the packet data of the enhanced packet block (got 90 of 92 bytes)"},
		{"pcapng trailing length differs", ng().rawBlock(blockEPB, 92, append(ng().epbHeader(0, 2, 60, 60), f...), 4).epb(0, 3, f).b, 1,
			"record 2: enhanced packet block: trailing length 4 does not match the block length 92"},
		{"pcapng capture length beyond the block", ng().block(blockEPB, append(ng().epbHeader(0, 2, 200, 200), f...)).b, 1,
			"record 2: enhanced packet block of 92 bytes is too small for 200 bytes of packet data"},
		{"pcapng capture length absurd", ng().block(blockEPB, append(ng().epbHeader(0, 2, 0xfffffff0, 60), f...)).b, 1,
			"record 2: enhanced packet block of 92 bytes is too small for 4294967280 bytes of packet data"},
		{"pcapng capture length above tshark's limit", ng().epb(0, 2, make([]byte, maxCapLen+1)).b, 1,
			"record 2: capture length 262145 exceeds the maximum of 262144"},
		{"pcapng unknown interface", ng().epb(3, 2, f).b, 1,
			"record 2: enhanced packet block names interface 3 of 1"},
		{"pcapng packet before any interface", newNg(le).epb(0, 1, f).b, 0,
			"record 1: enhanced packet block names interface 0 of 0"},
		{"pcapng block length not a multiple of 4", ng().rawBlock(0x99, 13, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 13).b, 1,
			"record 2: block has an invalid length of 13 bytes"},
		{"pcapng block length below 12", ng().rawBlock(0x99, 8, nil, 8).b, 1,
			"record 2: block has an invalid length of 8 bytes"},
		{"pcapng name resolution block too short", ng().rawBlock(blockNRB, 12, nil, 12).b, 1,
			"record 2: name resolution block has an invalid length of 12 bytes"},
		{"pcapng interface block too short", ng().rawBlock(blockIDB, 16, []byte{1, 0, 0, 0}, 16).b, 1,
			"record 2: interface description block has an invalid length of 16 bytes"},
		{"pcapng option overruns its block", ng().block(blockIDB, append([]byte{1, 0, 0, 0, 0, 0, 0, 0}, 2, 0, 100, 0, 'e', 't', 'h', '0')).b, 1,
			"record 2: interface description block: option 2 of 100 bytes overruns the block"},
		{"pcapng interface block cut short", ng().idb(1, 0, newNg(le).opt(2, []byte("eth0"))).b[:second+12], 1,
			"record 2: cut short in interface description block (got 12 of 32 bytes)"},
		{"pcapng later section of version 2.0", ng().shb(2, 0).idb(1, 0).epb(0, 1, f).b, 1,
			"record 2: section header block: pcapng version 2.0 is not supported"},
		{"pcapng cut short in a later section header", append(ng().b, newNg(le).b[:8]...), 1,
			"record 2: cut short in section header block (got 8 of 12 bytes)"},
		{"pcapng later section with a bad byte-order magic", append(ng().b, badMagic...), 1,
			"record 2: section header block has no valid byte-order magic (4d 3c 2b 00)"},
	}
}

func TestDamage(t *testing.T) {
	for _, tt := range damageCases() {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "capture.pcap", tt.data)
			r, err := Open(path)
			var got []frame
			if err == nil {
				got, err = readAll(r)
				// The error sticks.
				if again := r.Next(&drivers.Frame{}); again != err {
					t.Errorf("Next after the error returned %v", again)
				}
				r.Close()
			}
			if len(got) != tt.want {
				t.Errorf("got %d frames before the damage, want %d", len(got), tt.want)
			}
			if !errors.Is(err, drivers.ErrDamaged) {
				t.Fatalf("error %v does not wrap ErrDamaged", err)
			}
			if g, w := err.Error(), path+": "+tt.msg; g != w {
				t.Errorf("message\n got %q\nwant %q", g, w)
			}
		})
	}
}

// A tolerated case: real captures tshark reads and pcapgo alone rejects
// or mishandles.
type okCase struct {
	name string
	data []byte
	want int // frames
	orig int // OrigLen of the first frame, when not 0
}

func okCases() []okCase {
	f := ethFrame(1)
	ng := func() *ngFile { return newNg(le).idb(1, 0) }
	pcapV := func(minor byte) []byte {
		b := newPcap(le, false, 65535, 1).pkt(1, 0, f).b
		b[6] = minor
		return b
	}
	pb := func(n *ngFile) *ngFile {
		b := n.order.AppendUint16(nil, 0) // interface
		b = n.order.AppendUint16(b, 0)    // drops
		b = append(b, n.epbHeader(0, 5, 60, 60)[4:]...)
		return n.block(blockPB, append(b, f...))
	}
	return []okCase{
		{name: "empty file", data: []byte{}},
		{name: "pcap header only", data: newPcap(le, false, 65535, 1).b},
		{name: "pcap snap length 0", data: newPcap(le, false, 0, 1).pkt(1, 0, f).pkt(2, 0, f).b, want: 2},
		{name: "pcap records longer than the snap length", data: newPcap(le, false, 40, 1).pkt(1, 0, f).pkt(2, 0, f).b, want: 2},
		{name: "pcap capture length above the original length", data: newPcap(le, false, 65535, 1).rec(1, 0, 60, 50, f).pkt(2, 0, f).b, want: 2, orig: 60},
		{name: "pcap original length 0", data: newPcap(be, true, 65535, 1).rec(1, 0, 60, 0, f).b, want: 1, orig: 60},
		{name: "pcap cut by snap length", data: newPcap(le, false, 40, 1).rec(1, 0, 40, 60, f[:40]).b, want: 1, orig: 60},
		{name: "pcap version 2.2", data: pcapV(2), want: 1},
		{name: "pcap version 2.3", data: pcapV(3), want: 1},
		{name: "pcap FCS length in the link type field", data: newPcap(le, false, 65535, 1|1<<26|4<<28).pkt(1, 0, f).b, want: 1},
		{name: "pcap largest record tshark reads", data: newPcap(le, false, 0, 1).pkt(1, 0, make([]byte, maxCapLen)).pkt(2, 0, f).b, want: 2},
		{name: "pcapng section header only", data: newNg(le).b},
		{name: "pcapng section version 1.2", data: (&ngFile{order: le}).shb(1, 2).idb(1, 0).epb(0, 1, f).b, want: 1},
		{name: "pcapng end-of-options with a length", data: newNg(le).block(blockIDB, append([]byte{1, 0, 0, 0, 0, 0, 0, 0}, 0, 0, 4, 0, 'a', 'b', 'c', 'd')).epb(0, 1, f).b, want: 1},
		{name: "pcapng packets longer than the snap length", data: newNg(le).idb(1, 20).epb(0, 1, f).epb(0, 2, f).b, want: 2},
		{name: "pcapng capture length above the original length", data: ng().block(blockEPB, append(ng().epbHeader(0, 1, 60, 10), f...)).b, want: 1, orig: 60},
		{name: "pcapng huge snap length", data: newNg(le).idb(1, 0xffffffff).epb(0, 1, f).b, want: 1},
		{name: "pcapng unknown, name resolution and statistics blocks", data: ng().block(0x99, []byte("abcdefgh")).epb(0, 1, f).isb(0).block(blockNRB, []byte{0, 0, 0, 0}).epb(0, 2, f).b, want: 2},
		{name: "pcapng statistics of an unknown interface", data: ng().isb(2).epb(0, 1, f).b, want: 1},
		{name: "pcapng simple packet blocks", data: newNg(le).idb(1, 40).spb(60, f[:40]).spb(30, f[:30]).b, want: 2, orig: 60},
		{name: "pcapng obsolete packet block", data: pb(ng()).b, want: 1},
		{name: "pcapng empty last section", data: ng().epb(0, 1, f).shb(1, 0).b, want: 1},
		{name: "pcapng big-endian section after little-endian", data: append(ng().epb(0, 1, f).b, newNg(be).idb(101, 0).epb(0, 2, f[14:]).b...), want: 2},
		{name: "pcapng empty section", data: append(newNg(le).b, ng().epb(0, 1, f).b...), want: 1},
		{name: "pcapng interface options", data: newNg(le).idb(1, 0, newNg(le).opt(2, []byte("eth0")), newNg(le).opt(11, []byte{0}), newNg(le).opt(optTSOffset, []byte{1})).epb(0, 1, f).b, want: 1},
		// pcapgo reads a zero-length option's value from the option before
		// it: here 0xc6, if_tsresol 2^-70, which makes it divide by zero.
		{name: "pcapng empty if_tsresol after a value starting 0xc6", data: newNg(le).idb(1, 0, newNg(le).opt(2, []byte{0xc6, 'x'}), newNg(le).opt(optTSResol, nil)).epb(0, 1, f).b, want: 1},
		{name: "pcapng if_tsresol 2^-64", data: newNg(le).idb(1, 0, newNg(le).opt(optTSResol, []byte{0x80 | 64})).epb(0, 1, f).b, want: 1},
		{name: "pcapng big unknown block", data: ng().block(0x99, make([]byte, 3000)).epb(0, 1, f).b, want: 1},
		{name: "pcapng big packet options", data: ng().block(blockEPB, append(append(ng().epbHeader(0, 1, 60, 60), f...), newNg(le).opt(1, make([]byte, 3000))...)).b, want: 1},
	}
}

func TestTolerated(t *testing.T) {
	for _, tt := range okCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readFile(t, writeFile(t, "capture", tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d frames, want %d", len(got), tt.want)
			}
			if tt.orig != 0 && got[0].OrigLen != tt.orig {
				t.Errorf("OrigLen %d, want %d", got[0].OrigLen, tt.orig)
			}
			for i, g := range got {
				if g.OrigLen < len(g.Data) {
					t.Errorf("frame %d: OrigLen %d below its %d bytes", i+1, g.OrigLen, len(g.Data))
				}
			}
		})
	}
}

// TestWindowIndependent reads every case through a 64-byte buffer, where
// all but the smallest records and blocks stream past the guard instead
// of being checked whole: the frames and errors must not change.
func TestWindowIndependent(t *testing.T) {
	var all []damageCase
	for _, c := range okCases() {
		all = append(all, damageCase{name: c.name, data: c.data})
	}
	all = append(all, damageCases()...)
	for _, c := range all {
		t.Run(c.name, func(t *testing.T) {
			want := summary(readBytes(c.data, bufSize))
			got := summary(readBytes(c.data, 64))
			if got != want {
				t.Errorf("64-byte buffer:\n%s\n1 MiB buffer:\n%s", got, want)
			}
		})
	}
}

// readBytes reads b with a read buffer of size bytes.
func readBytes(b []byte, size int) ([]frame, error) {
	r, err := newReader("capture", bufio.NewReaderSize(bytes.NewReader(b), size))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readAll(r)
}

func summary(frames []frame, err error) string {
	var s strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&s, "%x %d %d %v %d\n", f.Data, f.TS, f.OrigLen, f.Link, f.Input)
	}
	fmt.Fprintf(&s, "error: %v", err)
	return s.String()
}

// TestMixedInterfaces reads a pcapng file whose interfaces have different
// link types: each frame carries its interface's, and the packets of the
// interface the sensor cannot decode are skipped and counted.
func TestMixedInterfaces(t *testing.T) {
	eth := ethFrame(1)
	ip := eth[14:]
	sll2 := append([]byte{
		0x08, 0x00, // protocol: IPv4
		0x00, 0x00, // reserved
		0x00, 0x00, 0x00, 0x02, // interface index 2
		0x00, 0x01, // ARPHRD_ETHER
		0x00,                                     // packet to us
		0x06,                                     // address length 6
		0x00, 0x1b, 0x1b, 0x02, 0xe6, 0x1f, 0, 0, // address
	}, ip...)
	n := newNg(le).idb(1, 0).idb(101, 0).idb(195, 0).idb(276, 0, newNg(le).opt(optTSResol, []byte{9}))
	n.epb(0, 1, eth).epb(1, 2, ip).epb(2, 3, []byte{1, 2, 3}).epb(3, 4, sll2).epb(2, 5, []byte{4}).epb(0, 6, eth)
	r, err := Open(writeFile(t, "mixed.pcapng", n.b))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []frame{
		{Data: eth, TS: 1000, OrigLen: 60, Link: drivers.LinkEthernet, Input: 0},
		{Data: ip, TS: 2000, OrigLen: 46, Link: drivers.LinkRaw, Input: 1},
		{Data: sll2, TS: 4, OrigLen: len(sll2), Link: drivers.LinkSLL2, Input: 3},
		{Data: eth, TS: 6000, OrigLen: 60, Link: drivers.LinkEthernet, Input: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if g, w := summary(got[i:i+1], nil), summary(want[i:i+1], nil); g != w {
			t.Errorf("frame %d:\n got %s\nwant %s", i+1, g, w)
		}
	}
	if r.Skipped() != 2 || r.Packets() != 4 || r.Bytes() != uint64(60+46+len(sll2)+60) {
		t.Errorf("Skipped %d, Packets %d, Bytes %d", r.Skipped(), r.Packets(), r.Bytes())
	}
}

// TestOnlyUnsupportedPackets: a pcapng file whose first interface can be
// decoded but whose packets all come from one that cannot ends with
// ErrUnsupportedLink, not a clean end.
func TestOnlyUnsupportedPackets(t *testing.T) {
	n := newNg(le).idb(1, 0).idb(195, 0).epb(1, 1, []byte{1}).epb(1, 2, []byte{2})
	path := writeFile(t, "zigbee.pcapng", n.b)
	got, err := readFile(t, path)
	if len(got) != 0 || !errors.Is(err, drivers.ErrUnsupportedLink) {
		t.Fatalf("got %d frames and %v", len(got), err)
	}
	if want := path + ": no packets of a supported link type (skipped 2 of unsupported link type LINKTYPE_195)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestClose(t *testing.T) {
	r, err := Open(writeFile(t, "c.pcap", newPcap(le, false, 65535, 1).pkt(1, 0, ethFrame(1)).b))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Next(&drivers.Frame{}); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewReader(t *testing.T) {
	b := newPcap(le, true, 65535, 1).pkt(1, 2, ethFrame(1)).b
	r, err := NewReader("stdin", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	if err != nil || len(got) != 1 || got[0].TS != 1000000002 || r.Path() != "stdin" {
		t.Fatalf("got %+v, %v", got, err)
	}
	// A read error is passed on, not taken for damage.
	r, err = NewReader("stdin", io.MultiReader(bytes.NewReader(b[:30]), iotestErrReader{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(r); err == nil || err.Error() != "stdin: device gone" || errors.Is(err, drivers.ErrDamaged) {
		t.Errorf("got %v", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("device gone") }

// TestNoAllocs: Next allocates nothing per packet once the buffers exist,
// for pcap and for pcapng with a link type above 255 (which pcapgo would
// box into an interface value per packet).
func TestNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts under -short")
	}
	for _, kind := range []string{"pcap", "pcapng"} {
		t.Run(kind, func(t *testing.T) {
			frames := make([]frame, 3000)
			for i := range frames {
				frames[i] = frame{Data: ethFrame(byte(i)), TS: int64(i) * 1000, OrigLen: 60}
			}
			r, err := Open(writeFile(t, "c", pcapgoFile(t, kind == "pcapng", drivers.LinkSLL2, frames)))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var f drivers.Frame
			for range 10 {
				if err := r.Next(&f); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(2000, func() {
				if err := r.Next(&f); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per Next", allocs)
			}
		})
	}
}
