package afpacket

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

var nativeEndian = binary.NativeEndian

// synth is ring memory laid out as the kernel lays out a TPACKET_V3 RX
// ring (net/packet/af_packet.c), written by the test in the kernel's place:
//
//	block b at b*blockSize:
//	  tpacket_block_desc   version, offset_to_priv, tpacket_hdr_v1{
//	                         block_status, num_pkts, offset_to_first_pkt,
//	                         blk_len, seq_num, ts_first_pkt, ts_last_pkt}
//	  (padding to 8)       the first frame at offset_to_first_pkt (48)
//	  frame:               tpacket3_hdr{tp_next_offset, tp_sec, tp_nsec,
//	                         tp_snaplen, tp_len, tp_status, tp_mac, tp_net,
//	                         hv1{tp_rxhash, tp_vlan_tci, tp_vlan_tpid}}
//	                       sockaddr_ll, padding, then the frame's bytes at
//	                       tp_mac; the next frame at tp_next_offset, aligned
//	                       to 8; tp_next_offset is 0 in the last frame.
type synth struct {
	mem       []byte
	blockSize int
	numBlocks int
}

// newSynth returns a ring whose blocks all belong to the kernel. The memory
// is allocated as uint64s, so it is 8-aligned as the kernel's pages are.
func newSynth(tb testing.TB, blockSize, numBlocks int) *synth {
	tb.Helper()
	words := make([]uint64, blockSize*numBlocks/8)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), blockSize*numBlocks)
	return &synth{mem: mem, blockSize: blockSize, numBlocks: numBlocks}
}

// sframe is a frame for the synthetic kernel to write.
type sframe struct {
	data    []byte // the captured bytes
	origLen int    // the length on the wire; 0 means len(data)
	sec     uint32
	nsec    uint32
	vlan    uint16 // the tag's TCI, when hasVLAN
	hasVLAN bool
}

func (f sframe) wireLen() int {
	if f.origLen == 0 {
		return len(f.data)
	}
	return f.origLen
}

// Where the kernel puts an Ethernet frame's first byte in its slot (tpacket_rcv):
// netoff = TPACKET_ALIGN(tp_hdrlen + max(maclen, 16)), macoff = netoff - maclen.
var (
	synthNetOff = int(tpacketAlign(tpacket3HdrLen + 16))
	synthMacOff = synthNetOff - 14
)

// v3Align is V3_ALIGNMENT, the alignment of frames in a block.
const v3Align = 8

func alignUp(x, a int) int { return (x + a - 1) &^ (a - 1) }

// slotLen is the room a frame takes in a block.
func slotLen(f sframe) int { return alignUp(synthMacOff+len(f.data), v3Align) }

// firstPkt is offset_to_first_pkt: the block descriptor aligned to 8.
var firstPkt = alignUp(int(unsafe.Sizeof(unix.TpacketBlockDesc{})), v3Align)

// fits reports whether frames fit in one block.
func (s *synth) fits(frames []sframe) bool {
	n := firstPkt
	for _, f := range frames {
		n += slotLen(f)
	}
	return n <= s.blockSize
}

// publish writes frames into block b as the kernel fills and closes a
// block, then hands it to user space: block_status = TP_STATUS_USER (with
// TP_STATUS_BLK_TMO when timedOut, as the retire timer does), stored
// atomically after everything else. The block must belong to the kernel.
func (s *synth) publish(tb testing.TB, b int, seq uint64, timedOut bool, frames ...sframe) {
	tb.Helper()
	if st := s.status(b); st != unix.TP_STATUS_KERNEL {
		tb.Fatalf("synth: publish block %d: the user still holds it (status %#x)", b, st)
	}
	if !s.fits(frames) {
		tb.Fatalf("synth: %d frames do not fit in a %d-byte block", len(frames), s.blockSize)
	}
	blk := s.mem[b*s.blockSize : (b+1)*s.blockSize]
	clear(blk)
	ne := binary.NativeEndian
	ne.PutUint32(blk[unsafe.Offsetof(unix.TpacketBlockDesc{}.Version):], unix.TPACKET_V3)
	ne.PutUint32(blk[offNumPkts:], uint32(len(frames)))
	ne.PutUint32(blk[offFirstPkt:], uint32(firstPkt))
	ne.PutUint64(blk[offSeqNum:], seq)
	off := firstPkt
	for i, f := range frames {
		h := blk[off:]
		next := slotLen(f)
		if i == len(frames)-1 {
			next = 0
		}
		status := uint32(unix.TP_STATUS_USER)
		if f.origLen > len(f.data) {
			status |= unix.TP_STATUS_COPY // as the kernel marks frames cut short
		}
		if f.hasVLAN {
			status |= unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID
			ne.PutUint32(h[offVlanTCI:], uint32(f.vlan))
			ne.PutUint16(h[offVlanTPID:], 0x8100)
		}
		ne.PutUint32(h[offNextOffset:], uint32(next))
		ne.PutUint32(h[offSec:], f.sec)
		ne.PutUint32(h[offNsec:], f.nsec)
		ne.PutUint32(h[offSnaplen:], uint32(len(f.data)))
		ne.PutUint32(h[offLen:], uint32(f.wireLen()))
		ne.PutUint32(h[offStatus:], status)
		ne.PutUint16(h[offMac:], uint16(synthMacOff))
		ne.PutUint16(h[offNet:], uint16(synthNetOff))
		copy(h[synthMacOff:], f.data)
		off += slotLen(f)
	}
	ne.PutUint32(blk[offBlkLen:], uint32(off))
	st := uint32(unix.TP_STATUS_USER)
	if timedOut {
		st |= unix.TP_STATUS_BLK_TMO
	}
	atomic.StoreUint32(s.statusAddr(b), st)
}

func (s *synth) statusAddr(b int) *uint32 {
	return (*uint32)(unsafe.Pointer(&s.mem[b*s.blockSize+int(offBlockStatus)]))
}

func (s *synth) status(b int) uint32 { return atomic.LoadUint32(s.statusAddr(b)) }

// owners writes who holds each block: "K" the kernel, "U" the user.
func (s *synth) owners() string {
	out := make([]byte, s.numBlocks)
	for b := range out {
		out[b] = 'K'
		if s.status(b)&unix.TP_STATUS_USER != 0 {
			out[b] = 'U'
		}
	}
	return string(out)
}

// template is a filled block kept aside, copied back into the ring by
// refill without allocating (benchmarks and allocation tests).
type template struct {
	blk    []byte
	frames int
}

// makeTemplate fills block 0 of a scratch ring with frames and returns it.
func makeTemplate(tb testing.TB, blockSize int, frames []sframe) template {
	s := newSynth(tb, blockSize, 1)
	s.publish(tb, 0, 0, false, frames...)
	return template{blk: s.mem, frames: len(frames)}
}

// refill hands every block the kernel holds back to the user, filled
// from t, and returns how many it refilled.
func (s *synth) refill(t template) int {
	n := 0
	for b := range s.numBlocks {
		if s.status(b) != unix.TP_STATUS_KERNEL {
			continue
		}
		blk := s.mem[b*s.blockSize : (b+1)*s.blockSize]
		copy(blk[offBlockStatus+4:], t.blk[offBlockStatus+4:])
		copy(blk[:offBlockStatus], t.blk[:offBlockStatus])
		atomic.StoreUint32(s.statusAddr(b), unix.TP_STATUS_USER)
		n++
	}
	return n
}

// ethFrame returns an Ethernet frame of n bytes (at least 14) whose bytes
// after the header count up from seed, so frames are told apart.
//
//	02 00 00 00 00 02  destination
//	02 00 00 00 00 01  source
//	88 b5              EtherType: local experimental
//	seed, seed+1, …    payload
func ethFrame(n int, seed byte) []byte {
	b := make([]byte, n)
	copy(b, []byte{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5})
	for i := 14; i < n; i++ {
		b[i] = seed + byte(i-14)
	}
	return b
}
