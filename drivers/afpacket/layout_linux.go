package afpacket

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The ring's layout, from the kernel's own structures as x/sys/unix
// declares them (include/uapi/linux/if_packet.h); no size or offset is
// written by hand.

// tpacketAlign is TPACKET_ALIGN: x rounded up to TPACKET_ALIGNMENT.
func tpacketAlign(x uintptr) uintptr {
	return (x + unix.TPACKET_ALIGNMENT - 1) &^ (unix.TPACKET_ALIGNMENT - 1)
}

// A block starts with struct tpacket_block_desc, whose header union holds
// struct tpacket_hdr_v1 for TPACKET_V3.
const (
	offBlockHdr = unsafe.Offsetof(unix.TpacketBlockDesc{}.Hdr)

	offBlockStatus = offBlockHdr + unsafe.Offsetof(unix.TpacketHdrV1{}.Block_status)
	offNumPkts     = offBlockHdr + unsafe.Offsetof(unix.TpacketHdrV1{}.Num_pkts)
	offFirstPkt    = offBlockHdr + unsafe.Offsetof(unix.TpacketHdrV1{}.Offset_to_first_pkt)
	offBlkLen      = offBlockHdr + unsafe.Offsetof(unix.TpacketHdrV1{}.Blk_len)
	offSeqNum      = offBlockHdr + unsafe.Offsetof(unix.TpacketHdrV1{}.Seq_num)

	// blockHdrLen is the part of the block descriptor the reader uses.
	blockHdrLen = offBlockHdr + unsafe.Sizeof(unix.TpacketHdrV1{})
)

// Each frame in a block starts with struct tpacket3_hdr.
const (
	offNextOffset = unsafe.Offsetof(unix.Tpacket3Hdr{}.Next_offset)
	offSec        = unsafe.Offsetof(unix.Tpacket3Hdr{}.Sec)
	offNsec       = unsafe.Offsetof(unix.Tpacket3Hdr{}.Nsec)
	offSnaplen    = unsafe.Offsetof(unix.Tpacket3Hdr{}.Snaplen)
	offLen        = unsafe.Offsetof(unix.Tpacket3Hdr{}.Len)
	offStatus     = unsafe.Offsetof(unix.Tpacket3Hdr{}.Status)
	offMac        = unsafe.Offsetof(unix.Tpacket3Hdr{}.Mac)
	offNet        = unsafe.Offsetof(unix.Tpacket3Hdr{}.Net)
	offVlanTCI    = unsafe.Offsetof(unix.Tpacket3Hdr{}.Hv1) + unsafe.Offsetof(unix.TpacketHdrVariant1{}.Vlan_tci)
	offVlanTPID   = unsafe.Offsetof(unix.Tpacket3Hdr{}.Hv1) + unsafe.Offsetof(unix.TpacketHdrVariant1{}.Vlan_tpid)

	// frameHdrLen is the size of struct tpacket3_hdr.
	frameHdrLen = unsafe.Sizeof(unix.Tpacket3Hdr{})
)

// tpacket3HdrLen is TPACKET3_HDRLEN: the frame header, aligned, followed by
// a struct sockaddr_ll. The kernel requires tp_frame_size to hold it.
var tpacket3HdrLen = tpacketAlign(frameHdrLen) + unsafe.Sizeof(unix.RawSockaddrLinklayer{})

// minFrameSize is the smallest FrameSize the kernel accepts.
var minFrameSize = int(tpacketAlign(tpacket3HdrLen))
