package afpacket

import (
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

func assemble(t *testing.T, prog ...bpf.Instruction) []bpf.RawInstruction {
	t.Helper()
	raw, err := bpf.Assemble(prog)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestCapFilter runs the programs capFilter builds in x/net/bpf's virtual
// machine and keeps min(return value, frame length) bytes as the kernel
// does (tpacket_rcv): every frame is cut at the snap length, and the filter's choices
// (drop, accept, a shorter length) are kept.
func TestCapFilter(t *testing.T) {
	const snap = 100
	// Frames of 60, 100, 101 and 1514 bytes; byte 0 says whether the
	// filters below accept the frame (1) or not (0).
	frame := func(n int, accept byte) []byte {
		b := make([]byte, n)
		b[0] = accept
		return b
	}
	frames := [][]byte{frame(60, 1), frame(100, 1), frame(101, 1), frame(1514, 1), frame(60, 0), frame(1514, 0)}
	capped := func(n int) int { return min(n, snap) }
	tests := []struct {
		name   string
		filter []bpf.RawInstruction
		want   func(f []byte) int // bytes kept
	}{
		{"no filter", nil, func(f []byte) int { return capped(len(f)) }},
		{"accept everything (tcpdump's ret #262144)",
			assemble(t, bpf.RetConstant{Val: 262144}),
			func(f []byte) int { return capped(len(f)) }},
		{"accept or drop by a byte",
			assemble(t,
				bpf.LoadAbsolute{Off: 0, Size: 1},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 1},
				bpf.RetConstant{Val: 262144},
				bpf.RetConstant{Val: 0}),
			func(f []byte) int { return capped(len(f)) * int(f[0]) }},
		{"a return below the snap length is kept",
			assemble(t, bpf.RetConstant{Val: 64}),
			func(f []byte) int { return min(len(f), 64) }},
		{"ret a with the frame length",
			assemble(t,
				bpf.LoadExtension{Num: bpf.ExtLen},
				bpf.RetA{}),
			func(f []byte) int { return capped(len(f)) }},
		{"ret a below the snap length",
			assemble(t,
				bpf.LoadConstant{Dst: bpf.RegA, Val: 42},
				bpf.RetA{}),
			func(f []byte) int { return min(len(f), 42) }},
		{"ret a and ret k mixed, two ret a",
			assemble(t,
				bpf.LoadAbsolute{Off: 0, Size: 1},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 3},
				bpf.LoadExtension{Num: bpf.ExtLen},
				bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: 1000, SkipTrue: 1},
				bpf.RetA{},
				bpf.RetA{},
				bpf.RetConstant{Val: 0}),
			func(f []byte) int { return capped(len(f)) * int(f[0]) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := capFilter(tt.filter, snap)
			if err != nil {
				t.Fatal(err)
			}
			ins, ok := bpf.Disassemble(prog)
			if !ok {
				t.Fatalf("program does not disassemble: %v", prog)
			}
			vm, err := bpf.NewVM(ins)
			if err != nil {
				t.Fatalf("program rejected: %v\n%v", err, ins)
			}
			for _, f := range frames {
				ret, err := vm.Run(f)
				if err != nil {
					t.Fatal(err)
				}
				got := min(ret, len(f))
				if want := tt.want(f); got != want {
					t.Errorf("frame of %d bytes (accept %d): kept %d bytes, want %d\n%v", len(f), f[0], got, want, ins)
				}
			}
			if len(tt.filter) > 0 && len(prog) > len(tt.filter)+3 {
				t.Errorf("program grew from %d to %d instructions", len(tt.filter), len(prog))
			}
		})
	}
}

func TestCapFilterErrors(t *testing.T) {
	retX := bpf.RawInstruction{Op: opRetK | 0x08} // BPF_RET|BPF_X: not accepted by Linux
	if _, err := capFilter([]bpf.RawInstruction{retX}, 100); err == nil || !strings.Contains(err.Error(), "unsupported return") {
		t.Errorf("ret x: %v", err)
	}
	long := make([]bpf.RawInstruction, maxFilterLen-1)
	for i := range long {
		long[i] = assemble(t, bpf.RetA{})[0]
	}
	if _, err := capFilter(long, 100); err == nil || !strings.Contains(err.Error(), "more than 4096") {
		t.Errorf("long filter: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Iface: "eth1"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Iface: "eth1", BlockSize: 1 << 20, NumBlocks: 32, FrameSize: 2048, Snaplen: 65535,
		RetireTimeout: DefaultRetireTimeout, PollTimeout: DefaultPollTimeout}
	if c.BlockSize != want.BlockSize || c.NumBlocks != want.NumBlocks || c.FrameSize != want.FrameSize ||
		c.Snaplen != want.Snaplen || c.RetireTimeout != want.RetireTimeout || c.PollTimeout != want.PollTimeout {
		t.Errorf("defaults %+v, want %+v", c, want)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no interface", Config{}, "afpacket: no interface given (Config.Iface)"},
		{"block not page-sized", Config{Iface: "eth1", BlockSize: 5000}, "afpacket: eth1: BlockSize 5000 is not a multiple of the page size"},
		{"negative blocks", Config{Iface: "eth1", NumBlocks: -1}, "afpacket: eth1: NumBlocks -1 is below 1"},
		{"ring too large", Config{Iface: "eth1", BlockSize: 1 << 30, NumBlocks: 2}, "afpacket: eth1: the ring (block 1024 MiB x 2) is larger than this platform maps"},
		{"frame does not divide", Config{Iface: "eth1", FrameSize: 3000}, "afpacket: eth1: FrameSize 3000 does not divide BlockSize 1048576"},
		{"snaplen", Config{Iface: "eth1", Snaplen: -5}, "afpacket: eth1: Snaplen -5 is below 1"},
		{"retire timeout", Config{Iface: "eth1", RetireTimeout: 1}, "afpacket: eth1: RetireTimeout 1ns is not between 1 ms"},
		{"poll timeout", Config{Iface: "eth1", PollTimeout: -1}, "afpacket: eth1: PollTimeout -1ns is not between 1 ms"},
		{"filter too long", Config{Iface: "eth1", Filter: make([]bpf.RawInstruction, 4094)}, "afpacket: eth1: Filter has 4094 instructions, more than 4093"},
		{"fanout size", Config{Iface: "eth1", Fanout: Fanout{Size: -2}}, "afpacket: eth1: Fanout.Size -2 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.withDefaults()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	for n, want := range map[int]string{1 << 20: "1 MiB", 64 << 10: "64 KiB", 4096: "4 KiB", 1000: "1000 bytes", 3 << 20: "3 MiB", 1536: "1536 bytes"} {
		if got := sizeString(n); got != want {
			t.Errorf("sizeString(%d) = %q, want %q", n, got, want)
		}
	}
}
