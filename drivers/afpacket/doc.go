// Package afpacket is the sensor's live capture: an AF_PACKET socket with a
// TPACKET_V3 memory-mapped RX ring, in pure Go (golang.org/x/sys/unix, no
// cgo, no libpcap), so it goes into the static firmware binary. A Ring
// implements drivers.Source: dissect.Engine.Packet consumes its frames
// from one goroutine per ring. Linux only; elsewhere Open returns
// "afpacket: not supported on GOOS".
//
// # The ring
//
// Open asks the kernel for NumBlocks blocks of BlockSize bytes
// (PACKET_RX_RING with a tpacket_req3) and maps them, contiguous, into the
// process. Each block starts with a struct tpacket_block_desc: block_status
// (TP_STATUS_KERNEL while the kernel owns the block, TP_STATUS_USER once it
// handed it over, with TP_STATUS_BLK_TMO when the retire timer did so),
// num_pkts and offset_to_first_pkt. The frames follow, packed: each is a
// struct tpacket3_hdr (tp_sec and tp_nsec, tp_snaplen bytes captured of
// tp_len on the wire, the frame's bytes at tp_mac from the header,
// tp_status with TP_STATUS_VLAN_VALID when hv1.tp_vlan_tci holds a VLAN
// tag the kernel took out of the frame) and tp_next_offset leads to the
// next one. The kernel fills the blocks in order and wraps from the last
// to block 0; it hands a block over when it is full or when RetireTimeout
// passed since the block was opened (then a block may hold few frames).
// Offsets and sizes come from x/sys/unix's declarations of these structs
// (unsafe.Offsetof, unsafe.Sizeof), never from numbers written by hand.
//
// # The release rule
//
// Frame.Data aliases the ring: no byte is copied. It stays valid until the
// next call to Next, as drivers.Source says, because a block goes back to
// the kernel only when Next is called after the last frame of that block
// was returned: the caller is then done with every frame of it. A reader
// that is slow to come back holds one block, never more; the kernel fills
// the others meanwhile, and once all are full it drops frames and counts
// them (Stats.Drops, Stats.FreezeCount).
//
// # Memory ordering
//
// The kernel writes a block's frames, then publishes the block with a
// store of TP_STATUS_USER to block_status behind a write barrier. Next
// loads block_status with sync/atomic, which orders the loads of the
// block's contents after it (an acquire), and hands the block back with
// an atomic store of TP_STATUS_KERNEL, which orders every read of the
// block before it (a release). With plain loads and stores a weakly
// ordered CPU (ARM, the firmware's target) could read a frame before the
// status that publishes it, or give a block back while still reading it.
// The unit tests run the block walk against a synthetic kernel on another
// goroutine, so that `go test -race` checks this protocol, and under
// qemu-user for arm64 and arm v7.
//
// # Waiting
//
// When the next block still belongs to the kernel, Next polls the socket
// for PollTimeout and returns ErrTimeout when nothing came, so the reader
// can do periodic work (flush, report, notice it must stop) without a
// second goroutine. Next, Stats and Close belong to the reader goroutine;
// to stop, the reader closes its own Ring after an ErrTimeout or a frame.
// When the interface goes down Next returns an error wrapping
// unix.ENETDOWN once; capture resumes when it comes back up.
//
// # Snap length and filter
//
// The kernel cuts each frame at the value its classic BPF filter returns,
// so Open always attaches a filter: "ret #Snaplen" alone, or Config.Filter
// with every return capped at Snaplen (constant returns lowered; each
// "ret a" turned into a jump to a three-instruction epilogue returning
// min(A, Snaplen)). The filter is attached before the socket is bound, and
// the socket is created with protocol 0 and bound with ETH_P_ALL, so no
// frame, of this interface or another, reaches the ring unfiltered. A cut
// frame has len(Data) < OrigLen, and counts in Stats.Truncated; the engine
// marks its flow as having a gap.
//
// # Fanout
//
// Rings opened with the same Fanout.Group and Fanout.Size > 1 form a
// PACKET_FANOUT group (PACKET_FANOUT_HASH with PACKET_FANOUT_FLAG_DEFRAG):
// the kernel sends each frame to one member, chosen by a symmetric hash
// of the flow computed after reassembling IP fragments, so both
// directions of a flow reach the same member. Order is kept per flow
// only: frames of different flows read by different members have no order
// between them. Each member is read by its own goroutine and feeds its own
// engine.
//
// # Configuration
//
// Config's zero fields take these defaults:
//
//	Iface          (required) interface name; Ethernet or loopback
//	BlockSize      1 MiB       block size, a multiple of the page size
//	NumBlocks      32          blocks in the ring (32 MiB)
//	FrameSize      2048        tp_frame_size: multiple of 16, at least 80, divides BlockSize
//	Snaplen        65535       bytes kept of each frame
//	RetireTimeout  20 ms       the longest a block that is not full waits for the reader
//	PollTimeout    100 ms      the longest Next waits before ErrTimeout
//	Filter         none        classic BPF, at most 4093 instructions
//	Fanout         none        {Group, Size}: join a fanout group when Size > 1
//	Input          0           copied into Frame.Input
//
// The ring does not put the interface in promiscuous mode or turn its
// offloads off: package board does that for capture interfaces.
//
// # Counters
//
// Stats: Packets, Bytes (on the wire) and Truncated count what Next
// delivered; Damaged counts frames skipped because their ring header was
// inconsistent (a kernel bug, never expected). KernelPackets, Drops and
// FreezeCount are the kernel's tp_packets (frames that passed the filter,
// dropped ones included), tp_drops and tp_freeze_q_cnt; reading them
// resets them in the kernel, so the Ring accumulates them at every Stats
// and at Close.
package afpacket
