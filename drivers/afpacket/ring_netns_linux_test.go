package afpacket

// Real-kernel tests: a Ring on one end of a veth pair between two network
// namespaces the test creates, frames sent from the other end. They need
// root and skip otherwise, and under qemu-user (which cannot set up a
// packet ring). Nothing is sent outside the test's namespaces.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/afpacket/afpackettest"
)

// openIn opens a Ring inside ns.
func openIn(t *testing.T, ns afpackettest.NS, cfg Config) *Ring {
	t.Helper()
	var r *Ring
	if err := ns.Do(func() (err error) { r, err = Open(cfg); return err }); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

// reader runs a Ring on its own goroutine, as the sensor does: fn sees
// every frame and says when it has seen enough; the goroutine stops then,
// or when stopped (at the latest when the test ends), and closes the ring
// itself.
type reader struct {
	stop atomic.Bool
	done chan struct{} // closed when the goroutine has finished
	res  readResult
}

type readResult struct {
	stats Stats
	err   error
}

func startReader(t *testing.T, ring *Ring, fn func(f *drivers.Frame) (enough bool)) *reader {
	rd := &reader{done: make(chan struct{})}
	go func() {
		defer close(rd.done)
		var f drivers.Frame
		var err error
		for !rd.stop.Load() {
			err = ring.Next(&f)
			if err == nil {
				if fn(&f) {
					break
				}
				continue
			}
			if errors.Is(err, ErrTimeout) {
				err = nil
				continue
			}
			break
		}
		rd.res.stats = ring.Stats()
		if cerr := ring.Close(); err == nil {
			err = cerr
		}
		rd.res.err = err
	}()
	t.Cleanup(func() {
		rd.stop.Store(true)
		<-rd.done
	})
	return rd
}

// wait waits for the reader to finish, stopping it after timeout.
func (rd *reader) wait(t *testing.T, timeout time.Duration) Stats {
	t.Helper()
	select {
	case <-rd.done:
	case <-time.After(timeout):
		rd.stop.Store(true)
		<-rd.done
	}
	if rd.res.err != nil {
		t.Errorf("reader: %v", rd.res.err)
	}
	return rd.res.stats
}

// sizeOf gives the test frames sizes between 46 and 1514 bytes.
func sizeOf(seq uint32) int { return 46 + int(seq*389)%1469 }

var flowAB = afpackettest.Flow{Src: [4]byte{192, 0, 2, 1}, Dst: [4]byte{192, 0, 2, 2}, SrcPort: 40000, DstPort: 502}

// send sends frames 0..n-1 made by mk from A, on one pinned thread, keeping
// at most window frames ahead of what the reader has seen.
func send(t *testing.T, v *afpackettest.Veth, n int, window int64, seen *atomic.Int64, mk func(seq uint32) []byte) {
	t.Helper()
	s := v.Sender(t)
	unpin := afpackettest.PinThread(t)
	defer unpin()
	deadline := time.Now().Add(20 * time.Second)
	for seq := range uint32(n) {
		for seen != nil && int64(seq)-seen.Load() > window {
			if time.Now().After(deadline) {
				t.Fatalf("the reader saw %d frames of the first %d sent in 20 s", seen.Load(), seq)
			}
			time.Sleep(50 * time.Microsecond)
		}
		if err := s.Send(mk(seq)); err != nil {
			t.Fatalf("send frame %d: %v", seq, err)
		}
	}
}

// TestRingConfigs sends frames of many sizes through rings of several
// shapes: every frame arrives once, in order, with its bytes and length,
// and timestamps do not go back and lie between the first send and the
// last receive.
func TestRingConfigs(t *testing.T) {
	const n = 3000
	for _, cfg := range []Config{
		{BlockSize: 64 << 10, NumBlocks: 4, FrameSize: 2048},
		{BlockSize: 64 << 10, NumBlocks: 64, FrameSize: 4096},
		{BlockSize: 1 << 20, NumBlocks: 2, FrameSize: 2048},
		{BlockSize: 1 << 20, NumBlocks: 4, FrameSize: 4096},
		{BlockSize: os.Getpagesize(), NumBlocks: 8, FrameSize: 2048, RetireTimeout: 5 * time.Millisecond},
		{}, // the defaults: 1 MiB x 32, 2048
	} {
		name := fmt.Sprintf("block %s x %d frame %d", sizeString(cfg.BlockSize), cfg.NumBlocks, cfg.FrameSize)
		if cfg.BlockSize == 0 {
			name = "defaults"
		}
		t.Run(name, func(t *testing.T) {
			v := afpackettest.NewVeth(t)
			cfg.Iface, cfg.Input = v.IfB, 5
			ring := openIn(t, v.B, cfg)
			full, _ := cfg.withDefaults()
			// Frames the ring holds at worst (1514-byte frames), halved.
			window := int64(full.BlockSize/1600*full.NumBlocks) / 2

			var seen, got atomic.Int64 // frames sent that the reader is past; frames received
			var last int64
			start := time.Now().UnixNano()
			rd := startReader(t, ring, func(f *drivers.Frame) bool {
				seq, ok := afpackettest.UDPSeq(f.Data)
				if !ok {
					t.Logf("ignored a frame not sent by the test: % x", f.Data[:min(len(f.Data), 32)])
					return false
				}
				want := afpackettest.UDPFrame(flowAB, seq, sizeOf(seq))
				i := seen.Load()
				switch {
				case int64(seq) != i:
					t.Errorf("frame %d: got sequence %d", i, seq)
				case !bytes.Equal(f.Data, want):
					t.Errorf("frame %d: bytes differ (%d, want %d bytes)", i, len(f.Data), len(want))
				case f.OrigLen != len(want) || f.Link != drivers.LinkEthernet || f.Input != 5 || f.HasVLAN:
					t.Errorf("frame %d: OrigLen %d Link %v Input %d HasVLAN %v", i, f.OrigLen, f.Link, f.Input, f.HasVLAN)
				case f.TS < last || f.TS < start || f.TS > time.Now().UnixNano():
					t.Errorf("frame %d: time %d, after %d, sending began at %d", i, f.TS, last, start)
				}
				last = f.TS
				seen.Store(int64(seq) + 1)
				return got.Add(1) == n || seq == n-1
			})
			send(t, v, n, window, &seen, func(seq uint32) []byte {
				return afpackettest.UDPFrame(flowAB, seq, sizeOf(seq))
			})
			st := rd.wait(t, 10*time.Second)
			if got := got.Load(); got != n {
				t.Errorf("received %d of %d frames (stats %+v)", got, n, st)
				diagnose(t, v)
			}
			if st.Packets < n || st.Drops != 0 || st.Truncated != 0 || st.Damaged != 0 || st.KernelPackets < n {
				t.Errorf("stats %+v, want %d packets and no drops", st, n)
			}
		})
	}
}

// diagnose logs the interfaces' counters, to tell where frames were lost.
func diagnose(t *testing.T, v *afpackettest.Veth) {
	for _, ns := range []afpackettest.NS{v.A, v.B} {
		ns.Do(func() error {
			out, _ := exec.Command("ip", "-s", "-s", "link").CombinedOutput()
			t.Logf("ip -s -s link:\n%s", out)
			return nil
		})
	}
	out, _ := os.ReadFile("/proc/net/softnet_stat")
	t.Logf("/proc/net/softnet_stat:\n%s", out)
}

// TestRingFanout opens 1, 2 and 4 rings in one fanout group, each read by
// its own goroutine, and sends both directions of many flows: every frame
// reaches exactly one member, all frames of a flow, both directions, the
// same member, and each member sees a flow's frames in order.
func TestRingFanout(t *testing.T) {
	const (
		flows   = 61 // prime: a round-robin spread would split every flow
		perFlow = 20 // frames per direction
		n       = flows * perFlow * 2
	)
	flowOf := func(i int) afpackettest.Flow {
		return afpackettest.Flow{Src: [4]byte{10, 1, 0, byte(i)}, Dst: [4]byte{10, 2, byte(i), 1}, SrcPort: uint16(30000 + i*7), DstPort: 502}
	}
	// Frame seq belongs to flow seq%flows, in direction (seq/flows)%2.
	frame := func(seq uint32) []byte {
		fl := flowOf(int(seq) % flows)
		if (seq/flows)%2 == 1 {
			fl = fl.Reverse()
		}
		return afpackettest.UDPFrame(fl, seq, 60+int(seq%700))
	}
	for _, members := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("%d members", members), func(t *testing.T) {
			v := afpackettest.NewVeth(t)
			var seen atomic.Int64
			got := make([][]uint32, members) // the sequence numbers each member saw
			var readers []*reader
			for m := range members {
				ring := openIn(t, v.B, Config{Iface: v.IfB, BlockSize: 64 << 10, NumBlocks: 16, Input: m,
					Fanout: Fanout{Group: 42, Size: members}})
				readers = append(readers, startReader(t, ring, func(f *drivers.Frame) bool {
					if seq, ok := afpackettest.UDPSeq(f.Data); ok && bytes.Equal(f.Data, frame(seq)) {
						got[m] = append(got[m], seq)
						seen.Add(1)
					}
					return seen.Load() >= n
				}))
			}
			send(t, v, n, 200, &seen, frame)
			deadline := time.Now().Add(10 * time.Second)
			for seen.Load() < n && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			for _, rd := range readers {
				rd.stop.Store(true)
			}
			for _, rd := range readers {
				if st := rd.wait(t, 5*time.Second); st.Drops != 0 {
					t.Errorf("a member dropped %d frames", st.Drops)
				}
			}

			owner := make(map[uint32]int) // seq → member
			flowOwner := make(map[int]int)
			used := 0
			for m, seqs := range got {
				if len(seqs) > 0 {
					used++
				}
				lastOf := make(map[int]int64)
				for _, seq := range seqs {
					if prev, dup := owner[seq]; dup {
						t.Errorf("frame %d seen by members %d and %d", seq, prev, m)
					}
					owner[seq] = m
					fl := int(seq) % flows
					if o, ok := flowOwner[fl]; ok && o != m {
						t.Errorf("flow %d (frame %d, direction %d) at member %d, earlier frames at member %d", fl, seq, (seq/flows)%2, m, o)
					}
					flowOwner[fl] = m
					if l, ok := lastOf[fl]; ok && int64(seq) <= l {
						t.Errorf("member %d: flow %d: frame %d after %d", m, fl, seq, l)
					}
					lastOf[fl] = int64(seq)
				}
			}
			if len(owner) != n {
				t.Errorf("%d distinct frames received, want %d", len(owner), n)
				diagnose(t, v)
			}
			if members > 1 && used < 2 {
				t.Errorf("only %d of %d members received frames: the group does not spread flows", used, members)
			}
			t.Logf("frames per member: %v", lens(got))
		})
	}
}

func lens(s [][]uint32) []int {
	out := make([]int, len(s))
	for i := range s {
		out[i] = len(s[i])
	}
	return out
}

// udpDstPort is a classic BPF program, as `tcpdump -dd 'ip and udp dst port
// PORT'` would write it, that accepts IPv4/UDP frames to port and returns
// ret for them.
func udpDstPort(port uint32, ret bpf.Instruction) []bpf.RawInstruction {
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                           // 0: EtherType
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x0800, SkipTrue: 8}, // 1: not IPv4 → drop
		bpf.LoadAbsolute{Off: 23, Size: 1},                           // 2: IP protocol
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 17, SkipTrue: 6},     // 3: not UDP → drop
		bpf.LoadAbsolute{Off: 20, Size: 2},                           // 4: flags, fragment offset
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 4},  // 5: a later fragment → drop
		bpf.LoadMemShift{Off: 14},                                    // 6: X = IP header length
		bpf.LoadIndirect{Off: 16, Size: 2},                           // 7: UDP destination port
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: port, SkipTrue: 1},   // 8: other port → drop
		ret,                     // 9: accept
		bpf.RetConstant{Val: 0}, // 10: drop
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic(err)
	}
	return raw
}

// TestRingFilterSnaplen: the filter lets only matching frames through, and
// the snap length cuts frames however the filter returns.
func TestRingFilterSnaplen(t *testing.T) {
	const n = 400
	tests := []struct {
		name    string
		filter  []bpf.RawInstruction
		snaplen int
		only502 bool // only frames to port 502 arrive
		capLen  int  // frames cut to this many bytes (0: not cut)
	}{
		{"filter", udpDstPort(502, bpf.RetConstant{Val: 262144}), 0, true, 0},
		{"filter and snaplen", udpDstPort(502, bpf.RetConstant{Val: 262144}), 100, true, 100},
		{"filter returning A, capped", udpDstPort(502, bpf.RetA{}), 90, true, 90}, // A holds the port (502): capped at 90
		{"filter returning less than snaplen", udpDstPort(502, bpf.RetConstant{Val: 64}), 128, true, 64},
		{"snaplen only", nil, 128, false, 128},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := afpackettest.NewVeth(t)
			ring := openIn(t, v.B, Config{Iface: v.IfB, BlockSize: 64 << 10, NumBlocks: 8, Filter: tt.filter, Snaplen: tt.snaplen})
			frame := func(seq uint32) []byte {
				fl := flowAB
				if seq%2 == 1 {
					fl.DstPort = 503
				}
				return afpackettest.UDPFrame(fl, seq, 46+int(seq*37)%1000)
			}
			want := n
			if tt.only502 {
				want = n / 2
			}
			var seen atomic.Int64
			var next uint32
			var truncated uint64
			rd := startReader(t, ring, func(f *drivers.Frame) bool {
				if len(f.Data) < 46 {
					t.Errorf("frame of %d bytes", len(f.Data))
					return false
				}
				seq, ok := afpackettest.UDPSeq(f.Data)
				if !ok {
					return false
				}
				w := frame(seq)
				wantLen := len(w)
				if tt.capLen > 0 && wantLen > tt.capLen {
					wantLen = tt.capLen
					truncated++
				}
				switch {
				case seq != next:
					t.Errorf("got frame %d, want %d", seq, next)
				case f.OrigLen != len(w) || !bytes.Equal(f.Data, w[:wantLen]):
					t.Errorf("frame %d: %d of %d bytes, want %d of %d", seq, len(f.Data), f.OrigLen, wantLen, len(w))
				}
				next = seq + 1
				if tt.only502 {
					next++
				}
				return seen.Add(1) == int64(want)
			})
			send(t, v, n, 100, nil, frame)
			st := rd.wait(t, 5*time.Second)
			if seen.Load() != int64(want) {
				t.Fatalf("received %d frames, want %d (stats %+v)", seen.Load(), want, st)
			}
			if st.Truncated != truncated || st.Packets != uint64(want) {
				t.Errorf("stats %+v, want %d packets, %d truncated", st, want, truncated)
			}
		})
	}
}

// TestRingVLAN sends 802.1Q-tagged frames: on receive the kernel takes the
// tag out of the frame into tp_vlan_tci (veth or not), and Frame.VLAN
// carries it whole (priority and VLAN id).
func TestRingVLAN(t *testing.T) {
	v := afpackettest.NewVeth(t)
	ring := openIn(t, v.B, Config{Iface: v.IfB, BlockSize: 64 << 10, NumBlocks: 8})
	tci := func(seq uint32) (uint16, bool) {
		switch seq % 3 {
		case 0:
			return 3<<13 | 100, true // PCP 3, VID 100
		case 1:
			return 0, false // untagged
		}
		return 4095, true // VID 4095
	}
	const n = 300
	var seen atomic.Int64
	rd := startReader(t, ring, func(f *drivers.Frame) bool {
		seq, ok := afpackettest.UDPSeq(f.Data)
		if !ok {
			t.Errorf("frame not untagged: % x", f.Data[:min(32, len(f.Data))])
			return false
		}
		want, tagged := tci(seq)
		if f.HasVLAN != tagged || f.VLAN != want {
			t.Errorf("frame %d: VLAN %#x/%v, want %#x/%v", seq, f.VLAN, f.HasVLAN, want, tagged)
		}
		if w := afpackettest.UDPFrame(flowAB, seq, 100); !bytes.Equal(f.Data, w) || f.OrigLen != len(w) {
			t.Errorf("frame %d: not the untagged frame (%d bytes, OrigLen %d)", seq, len(f.Data), f.OrigLen)
		}
		return seen.Add(1) == n
	})
	send(t, v, n, 100, &seen, func(seq uint32) []byte {
		fr := afpackettest.UDPFrame(flowAB, seq, 100)
		if c, tagged := tci(seq); tagged {
			fr = afpackettest.Tag(fr, c)
		}
		return fr
	})
	rd.wait(t, 5*time.Second)
	if seen.Load() != n {
		t.Fatalf("received %d frames, want %d", seen.Load(), n)
	}
}

// TestRingDrops floods a tiny ring nobody reads: the kernel drops what does
// not fit and says so, and what was kept is read in order afterwards.
func TestRingDrops(t *testing.T) {
	v := afpackettest.NewVeth(t)
	page := os.Getpagesize()
	ring := openIn(t, v.B, Config{Iface: v.IfB, BlockSize: page, NumBlocks: 2, FrameSize: 2048, PollTimeout: 10 * time.Millisecond})
	const n = 2000
	send(t, v, n, 0, nil, func(seq uint32) []byte { return afpackettest.UDPFrame(flowAB, seq, 1000) })
	time.Sleep(50 * time.Millisecond) // past the retire timeout
	var got int
	last := int64(-1)
	rd := startReader(t, ring, func(f *drivers.Frame) bool {
		seq, ok := afpackettest.UDPSeq(f.Data)
		if ok {
			if int64(seq) <= last {
				t.Errorf("frame %d after %d", seq, last)
			}
			last = int64(seq)
			got++
		}
		return false
	})
	time.Sleep(200 * time.Millisecond)
	rd.stop.Store(true)
	st := rd.wait(t, 5*time.Second)
	t.Logf("kept %d of %d frames; stats %+v", got, n, st)
	if st.Drops == 0 || st.FreezeCount == 0 {
		t.Errorf("no drops counted: %+v", st)
	}
	if got == 0 || got >= n/2 {
		t.Errorf("kept %d frames of %d in a two-page ring", got, n)
	}
	if st.KernelPackets != st.Packets+st.Drops {
		t.Errorf("kernel packets %d, want delivered %d + dropped %d", st.KernelPackets, st.Packets, st.Drops)
	}
}

// TestRingTimeout: Next on a quiet interface returns ErrTimeout after
// PollTimeout; the reader can go on or close.
func TestRingTimeout(t *testing.T) {
	v := afpackettest.NewVeth(t)
	ring := openIn(t, v.B, Config{Iface: v.IfB, BlockSize: 64 << 10, NumBlocks: 2, PollTimeout: 40 * time.Millisecond})
	defer ring.Close()
	var f drivers.Frame
	for range 2 {
		start := time.Now()
		if err := ring.Next(&f); !errors.Is(err, ErrTimeout) {
			t.Fatalf("Next: %v, want ErrTimeout", err)
		}
		if d := time.Since(start); d < 35*time.Millisecond || d > 2*time.Second {
			t.Errorf("Next waited %v, want about 40ms", d)
		}
	}
}

// TestRingIfaceDown: taking the interface down is reported once by Next
// (ENETDOWN), and capture resumes when it is back up.
func TestRingIfaceDown(t *testing.T) {
	v := afpackettest.NewVeth(t)
	ring := openIn(t, v.B, Config{Iface: v.IfB, BlockSize: 64 << 10, NumBlocks: 2, PollTimeout: 20 * time.Millisecond})
	defer ring.Close()
	ipIn := func(ns afpackettest.NS, args ...string) {
		t.Helper()
		if err := ns.Do(func() error {
			out, err := exec.Command("ip", args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	ipIn(v.B, "link", "set", v.IfB, "down")
	var f drivers.Frame
	err := ring.Next(&f)
	if !errors.Is(err, unix.ENETDOWN) || !strings.Contains(err.Error(), v.IfB) {
		t.Fatalf("Next after the link went down: %v, want ENETDOWN naming %s", err, v.IfB)
	}
	if err := ring.Next(&f); !errors.Is(err, ErrTimeout) {
		t.Fatalf("second Next: %v, want ErrTimeout", err)
	}
	ipIn(v.B, "link", "set", v.IfB, "up")
	s := v.Sender(t)
	want := afpackettest.UDPFrame(flowAB, 7, 80)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := s.Send(want); err != nil && !errors.Is(err, unix.ENETDOWN) {
			t.Fatal(err)
		}
		err := ring.Next(&f)
		if err == nil && bytes.Equal(f.Data, want) {
			return
		}
		if err != nil && !errors.Is(err, ErrTimeout) {
			t.Fatalf("Next after the link came back: %v", err)
		}
	}
	t.Fatal("no frame after the link came back up")
}

// TestOpenErrors: errors name the interface and the step that failed.
func TestOpenErrors(t *testing.T) {
	v := afpackettest.NewVeth(t)
	tests := []struct {
		name string
		cfg  Config
		want string
		is   error
	}{
		{"no such interface", Config{Iface: "nosuch0"}, "afpacket: nosuch0: interface: no such device", unix.ENODEV},
		{"name too long", Config{Iface: strings.Repeat("x", 20)}, "afpacket: xxxxxxxxxxxxxxxxxxxx: interface:", nil},
		{"bad block size", Config{Iface: v.IfB, BlockSize: 1000}, "afpacket: twb: BlockSize 1000 is not a multiple of the page size", nil},
		{"frame too small", Config{Iface: v.IfB, FrameSize: 64}, "afpacket: twb: FrameSize 64 is not a multiple of 16 of at least 80 bytes", nil},
		{"frame not dividing the block", Config{Iface: v.IfB, FrameSize: 3000}, "afpacket: twb: FrameSize 3000 does not divide BlockSize", nil},
		{"no interface", Config{}, "afpacket: no interface given", nil},
		{"filter the kernel refuses", Config{Iface: v.IfB, Filter: []bpf.RawInstruction{
			{Op: 0x05, K: 100}, // ja +100: beyond the program
			{Op: 0x06, K: 0},   // ret #0
		}}, "afpacket: twb: SO_ATTACH_FILTER: invalid argument (2 instructions)", unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *Ring
			err := v.B.Do(func() (err error) { r, err = Open(tt.cfg); return err })
			if err == nil {
				r.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), tt.want) || tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q, want %q (wrapping %v)", err, tt.want, tt.is)
			}
		})
	}
	t.Run("fanout group on another interface", func(t *testing.T) {
		// A fanout group binds to one interface: joining it from lo fails.
		a := openIn(t, v.B, Config{Iface: v.IfB, BlockSize: 64 << 10, NumBlocks: 2, Fanout: Fanout{Group: 9, Size: 2}})
		defer a.Close()
		var r *Ring
		err := v.B.Do(func() (err error) {
			r, err = Open(Config{Iface: "lo", BlockSize: 64 << 10, NumBlocks: 2, Fanout: Fanout{Group: 9, Size: 2}})
			return err
		})
		if err == nil {
			r.Close()
			t.Fatal("Open succeeded")
		}
		if want := "afpacket: lo: PACKET_FANOUT: invalid argument (group 9)"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	})
}
