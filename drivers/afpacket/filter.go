package afpacket

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// The kernel runs a packet socket's classic BPF filter on every frame and
// captures min(frame length, filter return) bytes of it; a return of 0
// drops the frame. Capping every return of the program at the snap length
// therefore makes the kernel cut frames at the snap length, with no copy
// and no work in user space.

// Opcodes of the returns, taken from x/net/bpf's assembler.
var (
	opRetK = mustOp(bpf.RetConstant{})
	opRetA = mustOp(bpf.RetA{})
)

// bpfClass is the instruction class: the low three bits of the opcode
// (BPF_CLASS in linux/bpf_common.h).
func bpfClass(op uint16) uint16 { return op & 0x07 }

func mustOp(i bpf.Instruction) uint16 {
	r, err := i.Assemble()
	if err != nil {
		panic(err)
	}
	return r.Op
}

func mustAssemble(i bpf.Instruction) bpf.RawInstruction {
	r, err := i.Assemble()
	if err != nil {
		panic(err)
	}
	return r
}

// capFilter returns the program Open attaches: "ret #snaplen" when filter is
// empty, otherwise filter with every return capped at snaplen. A constant
// return above snaplen is lowered to it; each "ret a" becomes a jump
// (same length, so no other jump moves) to an epilogue appended at the end:
//
//	jgt #snaplen, L   ; A > snaplen?
//	ret a
//	L: ret #snaplen
//
// The filter itself is checked by the kernel when it is attached; here only
// its returns are looked at.
func capFilter(filter []bpf.RawInstruction, snaplen uint32) ([]bpf.RawInstruction, error) {
	if len(filter) == 0 {
		return []bpf.RawInstruction{mustAssemble(bpf.RetConstant{Val: snaplen})}, nil
	}
	out := make([]bpf.RawInstruction, len(filter), len(filter)+3)
	copy(out, filter)
	epilogue := -1 // index of the epilogue, once needed
	for i, ins := range out {
		if bpfClass(ins.Op) != bpfClass(opRetK) {
			continue
		}
		switch ins.Op {
		case opRetK:
			if ins.K > snaplen {
				out[i].K = snaplen
			}
		case opRetA:
			if epilogue < 0 {
				epilogue = len(filter)
			}
			out[i] = mustAssemble(bpf.Jump{Skip: uint32(epilogue - i - 1)})
		default:
			return nil, fmt.Errorf("afpacket: filter instruction %d: unsupported return (opcode %#04x)", i, ins.Op)
		}
	}
	if epilogue >= 0 {
		out = append(out,
			mustAssemble(bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: snaplen, SkipTrue: 1}),
			mustAssemble(bpf.RetA{}),
			mustAssemble(bpf.RetConstant{Val: snaplen}),
		)
	}
	if len(out) > maxFilterLen {
		return nil, fmt.Errorf("afpacket: filter has %d instructions once capped at the snap length, more than %d", len(out), maxFilterLen)
	}
	return out, nil
}
