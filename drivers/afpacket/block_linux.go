package afpacket

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tapwire/tapwire/drivers"
)

// walker reads frames out of ring memory laid out as the kernel lays out a
// TPACKET_V3 RX ring: numBlocks blocks of blockSize bytes, each starting
// with a tpacket_block_desc whose block_status says who owns the block.
// It knows nothing of sockets, so the tests drive it over synthetic memory.
//
// Ownership: the kernel fills a block, then publishes it by storing
// TP_STATUS_USER in block_status (after a write barrier). The walker loads
// block_status atomically (an acquire: the loads of the block's contents
// that follow cannot be satisfied before it), walks the block's frames,
// and hands the block back by atomically storing TP_STATUS_KERNEL (a
// release: the reads of the block that precede it are done before the
// kernel can see the block as its own). Plain loads and stores would let
// a weakly ordered CPU (ARM) read a frame before the status that publishes
// it, or hand a block back while still reading it.
//
// Release rule: the frame Next returns aliases the block. A block goes back
// to the kernel only when Next is called after its last frame was returned
// (the caller is then done with every frame of it), never earlier.
type walker struct {
	mem       []byte
	blockSize int
	numBlocks int
	input     int

	cur   int    // block being read, or to be read next
	owned bool   // the walker holds block cur (it saw TP_STATUS_USER and has not released it)
	left  uint32 // frames of block cur not yet returned
	off   int    // offset in block cur of the next frame's header

	packets, bytes, truncated, damaged uint64
}

func newWalker(mem []byte, blockSize, numBlocks, input int) walker {
	return walker{mem: mem, blockSize: blockSize, numBlocks: numBlocks, input: input}
}

// status returns the address of block b's block_status.
func (w *walker) status(b int) *uint32 {
	return (*uint32)(unsafe.Pointer(&w.mem[b*w.blockSize+int(offBlockStatus)]))
}

// next fills f with the next frame and reports whether there was one.
// It returns false when the next block still belongs to the kernel; the
// caller waits (poll) and calls again.
func (w *walker) next(f *drivers.Frame) bool {
	for taken := 0; ; {
		if w.left > 0 {
			if w.frame(f) {
				return true
			}
			continue // damaged: w.left is 0 now, the block is released below
		}
		if w.owned {
			// The caller is done with every frame of block cur.
			atomic.StoreUint32(w.status(w.cur), unix.TP_STATUS_KERNEL)
			w.owned = false
			w.cur++
			if w.cur == w.numBlocks {
				w.cur = 0
			}
		}
		// After a turn of the ring through empty blocks, let the caller
		// wait rather than spin.
		if taken == w.numBlocks || atomic.LoadUint32(w.status(w.cur))&unix.TP_STATUS_USER == 0 {
			return false
		}
		taken++
		base := w.cur * w.blockSize
		blk := w.mem[base : base+w.blockSize]
		w.owned = true
		w.left = binary.NativeEndian.Uint32(blk[offNumPkts:])
		w.off = int(binary.NativeEndian.Uint32(blk[offFirstPkt:]))
		// An empty block (num_pkts 0, retired by the timer) is released on
		// the next turn of the loop.
	}
}

// frame decodes the frame at w.off in block cur into f and advances. A
// frame whose header points outside the block makes the rest of the block
// unreadable: it and the frames after it count as damaged and false is
// returned.
func (w *walker) frame(f *drivers.Frame) bool {
	base := w.cur * w.blockSize
	blk := w.mem[base : base+w.blockSize]
	off := w.off
	if off < int(blockHdrLen) || off > w.blockSize-int(frameHdrLen) {
		return w.drop()
	}
	h := blk[off : off+int(frameHdrLen)]
	mac := int(binary.NativeEndian.Uint16(h[offMac:]))
	snap := int(binary.NativeEndian.Uint32(h[offSnaplen:]))
	start := off + mac
	if mac < int(frameHdrLen) || start > w.blockSize || snap > w.blockSize-start {
		return w.drop()
	}
	w.left--
	if w.left > 0 {
		next := int(binary.NativeEndian.Uint32(h[offNextOffset:]))
		if next < int(frameHdrLen) || next > w.blockSize-off {
			// The frame itself is sound; the ones after it are lost.
			w.damaged += uint64(w.left)
			w.left = 0
		}
		w.off = off + next
	}

	status := binary.NativeEndian.Uint32(h[offStatus:])
	origLen := int(binary.NativeEndian.Uint32(h[offLen:]))
	if origLen < snap {
		origLen = snap
	}
	f.Data = blk[start : start+snap : start+snap]
	f.TS = int64(binary.NativeEndian.Uint32(h[offSec:]))*1e9 + int64(binary.NativeEndian.Uint32(h[offNsec:]))
	f.OrigLen = origLen
	f.Link = drivers.LinkEthernet
	f.Input = w.input
	if status&unix.TP_STATUS_VLAN_VALID != 0 {
		f.VLAN = uint16(binary.NativeEndian.Uint32(h[offVlanTCI:]))
		f.HasVLAN = true
	} else {
		f.VLAN, f.HasVLAN = 0, false
	}

	w.packets++
	w.bytes += uint64(origLen)
	if snap < origLen {
		w.truncated++
	}
	return true
}

// drop gives up on the rest of block cur.
func (w *walker) drop() bool {
	w.damaged += uint64(w.left)
	w.left = 0
	return false
}
