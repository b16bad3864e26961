package afpacket

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tapwire/tapwire/drivers"
)

// TestLayout checks the offsets computed from x/sys/unix against the
// kernel's uapi header, which fixes them on every architecture.
func TestLayout(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"block_status", offBlockStatus, 8},
		{"num_pkts", offNumPkts, 12},
		{"offset_to_first_pkt", offFirstPkt, 16},
		{"blk_len", offBlkLen, 20},
		{"seq_num", offSeqNum, 24},
		{"sizeof(tpacket_block_desc)", unsafe.Sizeof(unix.TpacketBlockDesc{}), 48},
		{"tp_next_offset", offNextOffset, 0},
		{"tp_sec", offSec, 4},
		{"tp_nsec", offNsec, 8},
		{"tp_snaplen", offSnaplen, 12},
		{"tp_len", offLen, 16},
		{"tp_status", offStatus, 20},
		{"tp_mac", offMac, 24},
		{"tp_net", offNet, 26},
		{"hv1.tp_vlan_tci", offVlanTCI, 32},
		{"hv1.tp_vlan_tpid", offVlanTPID, 36},
		{"sizeof(tpacket3_hdr)", frameHdrLen, unix.SizeofTpacket3Hdr},
		{"TPACKET3_HDRLEN", tpacket3HdrLen, 48 + 20},
		{"TPACKET_ALIGN(68)", tpacketAlign(68), 80},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// step is one call to walker.next in a table test.
type step struct {
	publish []pub   // blocks the kernel hands over before the call
	want    *sframe // the frame next returns; nil: no frame
	owners  string  // who holds each block after the call (K kernel, U user)
}

// pub is a block the synthetic kernel fills and hands to user space.
type pub struct {
	block    int
	timedOut bool
	frames   []sframe
}

func TestWalker(t *testing.T) {
	const bs = 4096
	small := sframe{data: ethFrame(60, 1), sec: 1700000000, nsec: 1}
	mid := sframe{data: ethFrame(590, 2), sec: 1700000000, nsec: 2}
	big := sframe{data: ethFrame(1514, 3), sec: 1700000001, nsec: 999999999}
	vlan := sframe{data: ethFrame(102, 4), sec: 1700000002, vlan: 3<<13 | 100, hasVLAN: true}      // PCP 3, VID 100
	prio0 := sframe{data: ethFrame(64, 5), sec: 1700000002, nsec: 5, vlan: 5 << 13, hasVLAN: true} // priority tag, VID 0
	cut := sframe{data: ethFrame(128, 6), origLen: 1514, sec: 1700000003, nsec: 3}
	f := func(i int) *sframe { // distinct small frames
		fr := sframe{data: ethFrame(60+i*7, byte(i)), sec: 1700000100, nsec: uint32(i)}
		return &fr
	}
	tests := []struct {
		name   string
		blocks int
		steps  []step
	}{
		{
			name:   "nothing published",
			blocks: 2,
			steps:  []step{{owners: "KK"}, {owners: "KK"}},
		},
		{
			name:   "one block, frames of various sizes",
			blocks: 2,
			steps: []step{
				{publish: []pub{{block: 0, frames: []sframe{small, mid, big}}}, want: &small, owners: "UK"},
				{want: &mid, owners: "UK"},
				{want: &big, owners: "UK"}, // the last frame is still in use: block 0 stays the user's
				{owners: "KK"},             // moving past it hands block 0 back
				{owners: "KK"},
			},
		},
		{
			name:   "several blocks in order",
			blocks: 3,
			steps: []step{
				{publish: []pub{{block: 0, frames: []sframe{*f(1), *f(2)}}, {block: 1, frames: []sframe{*f(3)}}, {block: 2, frames: []sframe{*f(4), *f(5)}}},
					want: f(1), owners: "UUU"},
				{want: f(2), owners: "UUU"},
				{want: f(3), owners: "KUU"},
				{want: f(4), owners: "KKU"},
				{want: f(5), owners: "KKU"},
				{owners: "KKK"},
			},
		},
		{
			name:   "VLAN tags from tp_vlan_tci",
			blocks: 2,
			steps: []step{
				{publish: []pub{{block: 0, frames: []sframe{vlan, small, prio0}}}, want: &vlan, owners: "UK"},
				{want: &small, owners: "UK"}, // HasVLAN is cleared again
				{want: &prio0, owners: "UK"},
				{owners: "KK"},
			},
		},
		{
			name:   "frame cut by the snap length keeps its wire length",
			blocks: 2,
			steps: []step{
				{publish: []pub{{block: 0, frames: []sframe{cut, small}}}, want: &cut, owners: "UK"},
				{want: &small, owners: "UK"},
				{owners: "KK"},
			},
		},
		{
			name:   "next block not yet released by the kernel",
			blocks: 2,
			steps: []step{
				{publish: []pub{{block: 0, frames: []sframe{*f(1)}}}, want: f(1), owners: "UK"},
				{owners: "KK"}, // block 1 is still the kernel's: no frame, block 0 handed back
				{owners: "KK"},
				{publish: []pub{{block: 1, frames: []sframe{*f(2)}}}, want: f(2), owners: "KU"},
				{owners: "KK"},
			},
		},
		{
			name:   "wrap-around to block 0",
			blocks: 2,
			steps: []step{
				{publish: []pub{{block: 0, frames: []sframe{*f(1)}}, {block: 1, frames: []sframe{*f(2)}}}, want: f(1), owners: "UU"},
				{want: f(2), owners: "KU"},
				{publish: []pub{{block: 0, frames: []sframe{*f(3), *f(4)}}}, want: f(3), owners: "UK"},
				{want: f(4), owners: "UK"},
				{publish: []pub{{block: 1, frames: []sframe{*f(5)}}}, want: f(5), owners: "KU"},
				{publish: []pub{{block: 0, frames: []sframe{*f(6)}}}, want: f(6), owners: "UK"},
				{owners: "KK"},
			},
		},
		{
			name:   "empty blocks retired by the timer are skipped",
			blocks: 4,
			steps: []step{
				{publish: []pub{{block: 0, timedOut: true}, {block: 1, timedOut: true}, {block: 2, frames: []sframe{*f(1)}, timedOut: true}},
					want: f(1), owners: "KKUK"},
				{owners: "KKKK"},
				{publish: []pub{{block: 3, timedOut: true}}, owners: "KKKK"},
				{publish: []pub{{block: 0, frames: []sframe{*f(2)}}}, want: f(2), owners: "UKKK"},
			},
		},
		{
			name:   "every block published and empty",
			blocks: 3,
			steps: []step{
				{publish: []pub{{block: 0, timedOut: true}, {block: 1, timedOut: true}, {block: 2, timedOut: true}}, owners: "KKK"},
			},
		},
		{
			name:   "a full ring is drained in order",
			blocks: 3,
			steps: []step{
				{publish: []pub{{block: 0, frames: []sframe{*f(1)}}, {block: 1, frames: []sframe{*f(2)}}, {block: 2, frames: []sframe{*f(3)}}}, want: f(1), owners: "UUU"},
				{want: f(2), owners: "KUU"},
				{publish: []pub{{block: 0, frames: []sframe{*f(4)}}}, want: f(3), owners: "UKU"},
				{want: f(4), owners: "UKK"},
				{owners: "KKK"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSynth(t, bs, tt.blocks)
			w := newWalker(s.mem, bs, tt.blocks, 7)
			var seq uint64
			var fr drivers.Frame
			for i, st := range tt.steps {
				for _, p := range st.publish {
					seq++
					s.publish(t, p.block, seq, p.timedOut, p.frames...)
				}
				got := w.next(&fr)
				switch {
				case st.want == nil && got:
					t.Fatalf("step %d: got a frame of %d bytes, want none", i, len(fr.Data))
				case st.want != nil && !got:
					t.Fatalf("step %d: got no frame, want one of %d bytes", i, len(st.want.data))
				case got:
					checkFrame(t, fmt.Sprintf("step %d", i), &fr, st.want, 7)
				}
				if o := s.owners(); o != st.owners {
					t.Fatalf("step %d: block owners %s, want %s", i, o, st.owners)
				}
			}
		})
	}
}

func checkFrame(t *testing.T, where string, got *drivers.Frame, want *sframe, input int) {
	t.Helper()
	if !bytes.Equal(got.Data, want.data) {
		t.Fatalf("%s: data\n% x\nwant\n% x", where, got.Data, want.data)
	}
	if cap(got.Data) != len(got.Data) {
		t.Errorf("%s: cap(Data) = %d, want %d (appending must not write into the ring)", where, cap(got.Data), len(got.Data))
	}
	if ts := int64(want.sec)*1e9 + int64(want.nsec); got.TS != ts {
		t.Errorf("%s: TS %d, want %d", where, got.TS, ts)
	}
	if got.OrigLen != want.wireLen() {
		t.Errorf("%s: OrigLen %d, want %d", where, got.OrigLen, want.wireLen())
	}
	if got.VLAN != want.vlan || got.HasVLAN != want.hasVLAN {
		t.Errorf("%s: VLAN %#x/%v, want %#x/%v", where, got.VLAN, got.HasVLAN, want.vlan, want.hasVLAN)
	}
	if got.Link != drivers.LinkEthernet || got.Input != input {
		t.Errorf("%s: Link %v Input %d, want EN10MB %d", where, got.Link, got.Input, input)
	}
}

func TestWalkerCounters(t *testing.T) {
	s := newSynth(t, 4096, 2)
	w := newWalker(s.mem, 4096, 2, 0)
	s.publish(t, 0, 1, false,
		sframe{data: ethFrame(60, 0)},
		sframe{data: ethFrame(100, 0), origLen: 1000},
		sframe{data: ethFrame(200, 0)},
	)
	var f drivers.Frame
	for w.next(&f) {
	}
	if w.packets != 3 || w.bytes != 60+1000+200 || w.truncated != 1 || w.damaged != 0 {
		t.Errorf("packets %d bytes %d truncated %d damaged %d, want 3 1260 1 0", w.packets, w.bytes, w.truncated, w.damaged)
	}
}

// TestWalkerDamaged: headers that point outside their block (the kernel
// never writes them) lose the rest of that block, never read outside it,
// and the next block is read as usual.
func TestWalkerDamaged(t *testing.T) {
	const bs = 4096
	ne := nativeEndian
	tests := []struct {
		name    string
		corrupt func(blk []byte) // block 0, holding three frames
		want    int              // frames of block 0 still delivered
	}{
		{"offset_to_first_pkt beyond the block", func(b []byte) { ne.PutUint32(b[offFirstPkt:], bs) }, 0},
		{"offset_to_first_pkt inside the descriptor", func(b []byte) { ne.PutUint32(b[offFirstPkt:], 4) }, 0},
		{"tp_mac beyond the block", func(b []byte) { ne.PutUint16(b[firstPkt+int(offMac):], 0xffff) }, 0},
		{"tp_snaplen beyond the block", func(b []byte) { ne.PutUint32(b[firstPkt+int(offSnaplen):], bs) }, 0},
		{"tp_next_offset 0 before the last frame", func(b []byte) { ne.PutUint32(b[firstPkt+int(offNextOffset):], 0) }, 1},
		{"tp_next_offset beyond the block", func(b []byte) { ne.PutUint32(b[firstPkt+int(offNextOffset):], bs) }, 1},
		{"num_pkts larger than the frames", func(b []byte) { ne.PutUint32(b[offNumPkts:], 1000) }, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSynth(t, bs, 2)
			w := newWalker(s.mem, bs, 2, 0)
			s.publish(t, 0, 1, false, sframe{data: ethFrame(60, 1)}, sframe{data: ethFrame(70, 2)}, sframe{data: ethFrame(80, 3)})
			tt.corrupt(s.mem[:bs])
			s.publish(t, 1, 2, false, sframe{data: ethFrame(90, 4)})
			var f drivers.Frame
			n := 0
			for w.next(&f) {
				n++
				if len(f.Data) == 90 {
					break
				}
			}
			if n != tt.want+1 || len(f.Data) != 90 {
				t.Fatalf("got %d frames ending with %d bytes, want %d then the 90-byte frame of block 1", n, len(f.Data), tt.want)
			}
			if w.damaged == 0 {
				t.Errorf("no frame counted as damaged")
			}
			if o := s.owners(); o != "KU" {
				t.Errorf("owners %s, want KU", o)
			}
		})
	}
}

// TestWalkerConcurrent runs a synthetic kernel in another goroutine that
// fills blocks with frames of random sizes as soon as the reader hands
// them back, many times round the ring. Every frame arrives once, in order,
// with its bytes. Under the race detector (go test -race) it also checks
// the ownership protocol: the kernel's plain writes and the reader's plain
// reads of a block are ordered only by the atomic block_status store and
// load, so a read before the acquire or a release before the last read
// is reported as a race.
func TestWalkerConcurrent(t *testing.T) {
	const (
		bs     = 8192
		blocks = 4
		frames = 20000
	)
	s := newSynth(t, bs, blocks)
	w := newWalker(s.mem, bs, blocks, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := make([]int, frames)
	for i := range sizes {
		sizes[i] = 18 + rng.IntN(1497)
	}
	frameOf := func(i int) sframe {
		d := ethFrame(sizes[i], byte(i))
		nativeEndian.PutUint32(d[14:], uint32(i)) // sequence number
		return sframe{data: d, sec: uint32(i / 1000), nsec: uint32(i)}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	defer func() { close(stop); wg.Wait() }()
	wg.Add(1)
	go func() { // the kernel
		defer wg.Done()
		var seq uint64
		next, b := 0, 0
		for next < frames {
			for s.status(b) != unix.TP_STATUS_KERNEL {
				select {
				case <-stop:
					return
				default:
				}
			}
			var batch []sframe
			for next < frames {
				fr := frameOf(next)
				if !s.fits(append(batch, fr)) {
					break
				}
				batch = append(batch, fr)
				next++
			}
			seq++
			s.publish(t, b, seq, false, batch...)
			b = (b + 1) % blocks
		}
	}()
	var f drivers.Frame
	for i := 0; i < frames; {
		if !w.next(&f) {
			continue
		}
		if len(f.Data) != sizes[i] || nativeEndian.Uint32(f.Data[14:]) != uint32(i) {
			t.Fatalf("frame %d: got %d bytes, sequence %d; want %d bytes", i, len(f.Data), nativeEndian.Uint32(f.Data[14:]), sizes[i])
		}
		want := frameOf(i)
		if !bytes.Equal(f.Data, want.data) {
			t.Fatalf("frame %d: bytes differ", i)
		}
		i++
	}
	if w.next(&f) {
		t.Fatalf("a frame after the last one")
	}
	if w.packets != frames {
		t.Errorf("packets %d, want %d", w.packets, frames)
	}
}
