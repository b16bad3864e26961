package afpacket

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/net/bpf"
)

// Defaults of Config, applied to fields left at their zero value.
const (
	DefaultBlockSize     = 1 << 20 // 1 MiB
	DefaultNumBlocks     = 32
	DefaultFrameSize     = 2048
	DefaultSnaplen       = 65535
	DefaultRetireTimeout = 20 * time.Millisecond
	DefaultPollTimeout   = 100 * time.Millisecond
)

// maxFilterLen is the kernel's limit on a classic BPF program (BPF_MAXINSNS).
const maxFilterLen = 4096

// Config says which interface a Ring captures and how its ring is shaped.
// The zero value of a field means its default.
type Config struct {
	// Iface is the name of the interface to capture (required). It must
	// carry Ethernet frames (Ethernet or loopback).
	Iface string

	// BlockSize is the size of one ring block in bytes
	// (tpacket_req3.tp_block_size): a multiple of the page size, and best a
	// power of two, since the kernel allocates each block as 2^n pages.
	// A block is the unit the kernel hands to the reader and the reader
	// hands back. Default 1 MiB.
	BlockSize int

	// NumBlocks is the number of blocks in the ring (tp_block_nr). The ring
	// holds BlockSize × NumBlocks bytes of frames; default 32 (32 MiB).
	NumBlocks int

	// FrameSize is tp_frame_size: a multiple of 16 (TPACKET_ALIGNMENT), at
	// least the frame header, dividing BlockSize. TPACKET_V3 packs frames
	// of any length into a block, so FrameSize bounds neither the capture
	// nor the frame count in a block; the kernel only checks it. Default
	// 2048.
	FrameSize int

	// Snaplen caps the bytes captured of each frame. The kernel caps a
	// frame at the return value of the socket's classic BPF filter, so
	// Open always attaches a filter: "ret #Snaplen" alone, or Filter with
	// every return capped at Snaplen. A frame longer than Snaplen arrives
	// cut, with Frame.OrigLen its length on the wire, and counts in
	// Stats.Truncated. Frames longer than a block minus its headers are
	// also cut, whatever Snaplen says. Default 65535.
	Snaplen int

	// RetireTimeout is how long the kernel fills a block before it hands a
	// block that is not full to the reader (tp_retire_blk_tov, milliseconds,
	// at least 1 ms). It bounds the latency of a quiet link. Default 20 ms.
	RetireTimeout time.Duration

	// PollTimeout is how long Next waits for a block before it returns
	// ErrTimeout, so that the reader can do periodic work and notice that
	// it should stop. Default 100 ms.
	PollTimeout time.Duration

	// Filter is a classic BPF program (e.g. from `tcpdump -dd`), attached
	// with SO_ATTACH_FILTER before the socket is bound, so no frame escapes
	// it. Frames for which it returns 0 are not captured; its non-zero
	// returns are capped at Snaplen (see Snaplen). At most 4093
	// instructions (the kernel's limit is 4096; the cap may add three).
	// Default: none (every frame).
	Filter []bpf.RawInstruction

	// Fanout, when Size > 1, joins the ring to a PACKET_FANOUT group in
	// PACKET_FANOUT_HASH mode with PACKET_FANOUT_FLAG_DEFRAG. Default: no
	// fanout.
	Fanout Fanout

	// Input is written into Frame.Input of every frame.
	Input int
}

// Fanout places a ring in a PACKET_FANOUT group: the kernel spreads the
// interface's frames over the group's members by a symmetric hash of the
// flow (addresses, ports and protocol, in either order), after
// reassembling IP fragments, so both directions of a flow reach the same
// member. Each member is a Ring of its own, opened with the same Config
// (its Input may differ) and read by its own goroutine. Order holds per
// flow only: frames of different flows read by different members have no
// order between them. Groups are per network namespace.
type Fanout struct {
	// Group is the fanout group id, shared by the members.
	Group uint16
	// Size is the number of rings the caller opens in the group. The kernel
	// needs no size; Size > 1 only says to join the group.
	Size int
}

// Stats are a Ring's counters. They only grow.
type Stats struct {
	Packets   uint64 // frames Next delivered
	Bytes     uint64 // their length on the wire (sum of Frame.OrigLen)
	Truncated uint64 // frames cut by the snap length (len(Data) < OrigLen)
	Damaged   uint64 // frames skipped because their ring header was inconsistent (a kernel bug: never expected)

	// From the kernel (PACKET_STATISTICS, which resets on each read: the
	// Ring accumulates them).
	KernelPackets uint64 // tp_packets: frames that passed the filter, including the dropped ones
	Drops         uint64 // tp_drops: frames dropped because no block was free (the reader was too slow)
	FreezeCount   uint64 // tp_freeze_q_cnt: times the ring filled up and the kernel froze it
}

// ErrTimeout is returned by Ring.Next when no frame arrived within
// Config.PollTimeout. It is not a failure: the reader does its periodic
// work (flushing, checking whether to stop) and calls Next again. Test with
// errors.Is.
var ErrTimeout = errors.New("afpacket: no frame within the poll timeout")

// withDefaults fills the zero fields of c with their defaults and checks
// the result.
func (c Config) withDefaults() (Config, error) {
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.NumBlocks == 0 {
		c.NumBlocks = DefaultNumBlocks
	}
	if c.FrameSize == 0 {
		c.FrameSize = DefaultFrameSize
	}
	if c.Snaplen == 0 {
		c.Snaplen = DefaultSnaplen
	}
	if c.RetireTimeout == 0 {
		c.RetireTimeout = DefaultRetireTimeout
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	return c, c.check()
}

func (c Config) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("afpacket: %s: "+format, append([]any{c.Iface}, args...)...)
	}
	page := os.Getpagesize()
	switch {
	case c.Iface == "":
		return errors.New("afpacket: no interface given (Config.Iface)")
	case c.BlockSize < 0 || c.BlockSize%page != 0:
		return bad("BlockSize %d is not a multiple of the page size %d", c.BlockSize, page)
	case c.BlockSize > 1<<30:
		return bad("BlockSize %d is above 1 GiB", c.BlockSize)
	case c.NumBlocks < 1:
		return bad("NumBlocks %d is below 1", c.NumBlocks)
	case int64(c.BlockSize)*int64(c.NumBlocks) > maxRingBytes:
		return bad("the ring (block %s x %d) is larger than this platform maps", sizeString(c.BlockSize), c.NumBlocks)
	case c.FrameSize < 1 || c.BlockSize%c.FrameSize != 0:
		return bad("FrameSize %d does not divide BlockSize %d", c.FrameSize, c.BlockSize)
	case c.Snaplen < 1:
		return bad("Snaplen %d is below 1", c.Snaplen)
	case c.RetireTimeout < time.Millisecond || c.RetireTimeout > time.Duration(1<<31-1)*time.Millisecond:
		return bad("RetireTimeout %v is not between 1 ms and 2^31 ms", c.RetireTimeout)
	case c.PollTimeout < time.Millisecond || c.PollTimeout > time.Duration(1<<31-1)*time.Millisecond:
		return bad("PollTimeout %v is not between 1 ms and 2^31 ms", c.PollTimeout)
	case len(c.Filter) > maxFilterLen-3:
		return bad("Filter has %d instructions, more than %d", len(c.Filter), maxFilterLen-3)
	case c.Fanout.Size < 0:
		return bad("Fanout.Size %d is negative", c.Fanout.Size)
	}
	return nil
}

// maxRingBytes bounds the ring so its size fits an int and the address
// space of 32-bit platforms.
const maxRingBytes = 1 << 30

// sizeString writes n bytes as "1 MiB", "64 KiB" or "1000 bytes".
func sizeString(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
