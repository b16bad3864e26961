package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The TX ring (TPACKET_V2, Documentation/networking/packet_mmap.rst):
// txFrames slots of frameSize bytes. Each slot starts with a struct
// tpacket2_hdr; the frame's bytes follow at TPACKET_ALIGN(sizeof
// tpacket2_hdr) (tp_hdrlen minus the sockaddr_ll the kernel accounts for
// but does not use on TX). tp_status says who owns the slot:
// TP_STATUS_AVAILABLE (ours), TP_STATUS_SEND_REQUEST (handed to the
// kernel), TP_STATUS_SENDING (being sent), TP_STATUS_WRONG_FORMAT (the
// kernel refused the frame). A send(2) makes the kernel send every slot in
// TP_STATUS_SEND_REQUEST from its position on; with MSG_DONTWAIT it does
// not wait for them to complete. Status words are read and written with
// sync/atomic: the kernel and this process share them.
var (
	txStatusOff = unsafe.Offsetof(unix.Tpacket2Hdr{}.Status)
	txLenOff    = unsafe.Offsetof(unix.Tpacket2Hdr{}.Len)
	txDataOff   = int((unsafe.Sizeof(unix.Tpacket2Hdr{}) + unix.TPACKET_ALIGNMENT - 1) &^ (unix.TPACKET_ALIGNMENT - 1))
)

// txInterval is the pacing interval: each interval sends what the rate
// allows since the start, in one batch.
const txInterval = time.Millisecond

type txRing struct {
	iface     string
	fd        int
	mem       []byte
	frameSize int
	head      int // next slot to fill
	mtu       int
}

func openTxRing(iface string, maxFrame int) (*txRing, error) {
	r := &txRing{iface: iface, fd: -1}
	fail := func(step string, err error) (*txRing, error) {
		r.close()
		return nil, fmt.Errorf("%s: %s: %w", iface, step, err)
	}
	var err error
	// Protocol 0: the socket receives nothing, not even its own frames.
	if r.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
		return fail("socket", err)
	}
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return fail("interface", err)
	}
	if err := unix.IoctlIfreq(r.fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return fail("interface", err)
	}
	index := int(ifr.Uint32())
	ifr, _ = unix.NewIfreq(iface)
	if err := unix.IoctlIfreq(r.fd, unix.SIOCGIFMTU, ifr); err != nil {
		return fail("SIOCGIFMTU", err)
	}
	r.mtu = int(ifr.Uint32())
	if err := unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return fail("PACKET_VERSION TPACKET_V2", err)
	}
	// A frame the kernel refuses is skipped rather than stopping the ring.
	if err := unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_LOSS, 1); err != nil {
		return fail("PACKET_LOSS", err)
	}
	r.frameSize = 2048
	for r.frameSize < txDataOff+maxFrame {
		r.frameSize *= 2
	}
	block := max(r.frameSize, 64<<10)
	req := unix.TpacketReq{
		Block_size: uint32(block),
		Block_nr:   uint32(txFrames * r.frameSize / block),
		Frame_size: uint32(r.frameSize),
		Frame_nr:   txFrames,
	}
	if err := unix.SetsockoptTpacketReq(r.fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
		return fail(fmt.Sprintf("PACKET_TX_RING (%d frames of %d bytes)", txFrames, r.frameSize), err)
	}
	if r.mem, err = unix.Mmap(r.fd, 0, txFrames*r.frameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		r.mem = nil
		return fail("mmap", err)
	}
	if err := unix.Bind(r.fd, &unix.SockaddrLinklayer{Ifindex: index}); err != nil {
		return fail("bind", err)
	}
	return r, nil
}

func (r *txRing) status(slot int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[slot*r.frameSize+int(txStatusOff)]))
}

// flush asks the kernel to send the slots handed to it.
func (r *txRing) flush() error {
	for {
		err := unix.Sendto(r.fd, nil, unix.MSG_DONTWAIT, nil)
		switch err {
		case nil, unix.EAGAIN, unix.ENOBUFS:
			// ENOBUFS and EAGAIN: the device is busy; what was not sent
			// stays requested and goes with the next flush.
			return nil
		case unix.EINTR:
			continue
		}
		return fmt.Errorf("%s: send: %w", r.iface, err)
	}
}

// waitSlot waits until the next slot is free, flushing and polling, and
// reports whether the kernel refused the frame that was in it.
func (r *txRing) waitSlot() (refused bool, err error) {
	st := r.status(r.head)
	for spins := 0; ; spins++ {
		switch s := atomic.LoadUint32(st); {
		case s == unix.TP_STATUS_AVAILABLE:
			return refused, nil
		case s&unix.TP_STATUS_WRONG_FORMAT != 0:
			atomic.StoreUint32(st, unix.TP_STATUS_AVAILABLE)
			return true, nil
		}
		if err := r.flush(); err != nil {
			return false, err
		}
		if spins > 16 {
			pfd := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(pfd, 1); err != nil && err != unix.EINTR {
				return false, fmt.Errorf("%s: poll: %w", r.iface, err)
			}
		}
	}
}

// put copies frame into the next slot and hands the slot to the kernel.
func (r *txRing) put(frame []byte) {
	slot := r.mem[r.head*r.frameSize : (r.head+1)*r.frameSize]
	copy(slot[txDataOff:], frame)
	binary.NativeEndian.PutUint32(slot[txLenOff:], uint32(len(frame)))
	atomic.StoreUint32(r.status(r.head), unix.TP_STATUS_SEND_REQUEST)
	r.head++
	if r.head == txFrames {
		r.head = 0
	}
}

// drain flushes and waits until the kernel sent every slot, for at most
// timeout, and returns how many it refused.
func (r *txRing) drain(timeout time.Duration) (refused int64, err error) {
	deadline := time.Now().Add(timeout)
	for slot := range txFrames {
		st := r.status(slot)
		for {
			s := atomic.LoadUint32(st)
			if s == unix.TP_STATUS_AVAILABLE {
				break
			}
			if s&unix.TP_STATUS_WRONG_FORMAT != 0 {
				atomic.StoreUint32(st, unix.TP_STATUS_AVAILABLE)
				refused++
				break
			}
			if time.Now().After(deadline) {
				return refused, fmt.Errorf("%s: frames still queued after %v", r.iface, timeout)
			}
			if err := r.flush(); err != nil {
				return refused, err
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	return refused, nil
}

func (r *txRing) close() {
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

// injectFile sends frames out of cfg.iface as cfg says, until done or
// interrupted (SIGINT, SIGTERM).
func injectFile(cfg injectConfig, frames [][]byte) (injectResult, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return inject(ctx, cfg, frames)
}

// inject sends frames out of cfg.iface: cfg.loops passes (0: until ctx is
// done), at cfg.rate packets per second (0: as fast as the kernel takes
// them), cfg.batch frames per system call.
func inject(ctx context.Context, cfg injectConfig, frames [][]byte) (injectResult, error) {
	var res injectResult
	longest := 0
	for _, f := range frames {
		longest = max(longest, len(f))
	}
	r, err := openTxRing(cfg.iface, longest)
	if err != nil {
		return res, err
	}
	defer r.close()
	// The kernel takes an untagged frame of up to MTU + 14 bytes, a
	// VLAN-tagged one 4 more; longer ones are skipped here.
	sendable := make([][]byte, 0, len(frames))
	for _, f := range frames {
		tagged := len(f) >= 14 && (binary.BigEndian.Uint16(f[12:]) == 0x8100 || binary.BigEndian.Uint16(f[12:]) == 0x88a8)
		if len(f) <= r.mtu+14 || tagged && len(f) <= r.mtu+18 {
			sendable = append(sendable, f)
		}
	}
	res.TooLong = int64(len(frames) - len(sendable))
	if len(sendable) == 0 {
		return res, fmt.Errorf("%s: no frame of the capture fits the MTU (%d)", cfg.iface, r.mtu)
	}

	var total int64 = -1 // frames to send; -1: until interrupted
	if cfg.loops > 0 {
		total = int64(cfg.loops) * int64(len(sendable))
	}
	var queued, queuedBytes, refused int64
	start := time.Now()
	for queued != total && ctx.Err() == nil {
		// How many frames the rate allows now.
		n := int64(cfg.batch)
		if cfg.rate > 0 {
			due := int64(time.Since(start).Seconds()*float64(cfg.rate)) + 1
			if n = min(n, due-queued); n <= 0 {
				time.Sleep(txInterval - time.Since(start)%txInterval) // to the next interval
				continue
			}
		}
		if total >= 0 {
			n = min(n, total-queued)
		}
		for range n {
			f := sendable[queued%int64(len(sendable))]
			ref, err := r.waitSlot()
			if err != nil {
				return res, err
			}
			if ref {
				refused++
			}
			r.put(f)
			queued++
			queuedBytes += int64(len(f))
		}
		if err := r.flush(); err != nil {
			return res, err
		}
	}
	ref, err := r.drain(5 * time.Second)
	refused += ref
	res.Seconds = time.Since(start).Seconds()
	res.Packets = queued - refused
	res.Bytes = queuedBytes // refused frames are rare (PACKET_LOSS skips them); their bytes are not tracked
	if err == nil && refused > 0 {
		err = fmt.Errorf("%s: the kernel refused %d frames", cfg.iface, refused)
	}
	return res, err
}
