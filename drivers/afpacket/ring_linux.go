package afpacket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/tapwire/tapwire/drivers"
)

// Ring is a live capture from one interface through a TPACKET_V3
// memory-mapped RX ring. It implements drivers.Source. Next, Stats and
// Close belong to one goroutine, the reader: a Ring is not safe for
// concurrent use, and it is stopped by its own reader (on ErrTimeout the
// reader checks whether to stop, then calls Close), never by closing it
// from another goroutine while Next may be waiting on its socket.
type Ring struct {
	cfg   Config
	fd    int
	mem   []byte
	w     walker
	pfd   [1]unix.PollFd
	stats Stats
}

var _ drivers.Source = (*Ring)(nil)

// errClosed is returned by Next on a closed Ring.
var errClosed = fmt.Errorf("afpacket: ring: %w", net.ErrClosed)

// Open opens a capture of cfg.Iface in the caller's network namespace (the
// namespace of the calling thread: a socket stays in the namespace it was
// created in, whichever thread uses it later). It creates the packet
// socket, selects TPACKET_V3, sets up and maps the RX ring, attaches the
// filter (Config.Filter capped at Config.Snaplen), binds the socket to the
// interface for every protocol (ETH_P_ALL) and joins the fanout group.
// Only the bind starts the capture: the socket is created with protocol 0,
// so it sees no frame of any interface before it is bound, and none that
// the filter would reject. Errors name the interface and the step that
// failed, and wrap the system error (errors.Is(err, unix.ENOMEM)).
func Open(cfg Config) (*Ring, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.FrameSize < minFrameSize || uintptr(cfg.FrameSize)%unix.TPACKET_ALIGNMENT != 0 {
		return nil, fmt.Errorf("afpacket: %s: FrameSize %d is not a multiple of %d of at least %d bytes",
			cfg.Iface, cfg.FrameSize, unix.TPACKET_ALIGNMENT, minFrameSize)
	}
	prog, err := capFilter(cfg.Filter, uint32(cfg.Snaplen))
	if err != nil {
		return nil, fmt.Errorf("afpacket: %s: %w", cfg.Iface, err)
	}
	r := &Ring{cfg: cfg, fd: -1}
	fail := func(step string, err error, detail string) (*Ring, error) {
		r.release()
		if detail != "" {
			detail = " (" + detail + ")"
		}
		return nil, fmt.Errorf("afpacket: %s: %s: %w%s", cfg.Iface, step, err, detail)
	}

	r.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail("socket", err, "")
	}
	ifindex, err := checkIface(r.fd, cfg.Iface)
	if err != nil {
		return fail("interface", err, "")
	}
	if err := unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("PACKET_VERSION TPACKET_V3", err, "")
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.NumBlocks),
		Frame_size:     uint32(cfg.FrameSize),
		Frame_nr:       uint32(cfg.BlockSize / cfg.FrameSize * cfg.NumBlocks),
		Retire_blk_tov: uint32(cfg.RetireTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(r.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("PACKET_RX_RING", err, fmt.Sprintf("block %s x %d", sizeString(cfg.BlockSize), cfg.NumBlocks))
	}
	r.mem, err = unix.Mmap(r.fd, 0, cfg.BlockSize*cfg.NumBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		r.mem = nil
		return fail("mmap", err, sizeString(cfg.BlockSize*cfg.NumBlocks))
	}
	if err := attachFilter(r.fd, prog); err != nil {
		return fail("SO_ATTACH_FILTER", err, fmt.Sprintf("%d instructions", len(prog)))
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(r.fd, sa); err != nil {
		return fail("bind", err, "")
	}
	if cfg.Fanout.Size > 1 {
		// The option is a 32-bit int: the group id in the low half, the mode
		// and flags in the high half.
		arg := uint32(cfg.Fanout.Group) | uint32(unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16
		if err := unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(int32(arg))); err != nil {
			return fail("PACKET_FANOUT", err, fmt.Sprintf("group %d", cfg.Fanout.Group))
		}
	}
	r.w = newWalker(r.mem, cfg.BlockSize, cfg.NumBlocks, cfg.Input)
	r.pfd[0] = unix.PollFd{Fd: int32(r.fd), Events: unix.POLLIN | unix.POLLERR}
	return r, nil
}

// checkIface returns the index of the interface named name, as seen from
// the socket's network namespace, and checks that it carries Ethernet
// frames.
func checkIface(fd int, name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	index := int(ifr.Uint32())
	ifr, _ = unix.NewIfreq(name)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, err
	}
	switch hw := ifr.Uint16(); hw { // sa_family of ifr_hwaddr: the ARPHRD_ type
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
	default:
		return 0, fmt.Errorf("link type ARPHRD %d does not carry Ethernet frames", hw)
	}
	return index, nil
}

// attachFilter attaches a classic BPF program with SO_ATTACH_FILTER.
func attachFilter(fd int, prog []bpf.RawInstruction) error {
	ins := make([]unix.SockFilter, len(prog))
	for i, p := range prog {
		ins[i] = unix.SockFilter{Code: p.Op, Jt: p.Jt, Jf: p.Jf, K: p.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
}

// htons converts a 16-bit value to network byte order, as sll_protocol
// wants it.
func htons(v uint16) uint16 {
	return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v))
}

// Next fills f with the next frame. f.Data aliases the ring and stays
// valid until the next call to Next: the block holding it goes back to
// the kernel only then. When no frame arrives within Config.PollTimeout,
// Next returns ErrTimeout. When the socket reports an error it returns it
// once: an error wrapping unix.ENETDOWN says the interface went down (or
// away); the capture resumes if it comes back up, so the reader may go on
// calling Next. Next allocates nothing.
func (r *Ring) Next(f *drivers.Frame) error {
	if r.fd < 0 {
		return errClosed
	}
	if r.w.next(f) {
		return nil
	}
	deadline := time.Now().Add(r.cfg.PollTimeout)
	for {
		wait := int((time.Until(deadline) + time.Millisecond - 1) / time.Millisecond)
		n, err := unix.Poll(r.pfd[:], max(wait, 0))
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("afpacket: %s: poll: %w", r.cfg.Iface, err)
		}
		if n > 0 && r.pfd[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			return r.sockErr()
		}
		if r.w.next(f) {
			return nil
		}
		if n == 0 && err == nil || !time.Now().Before(deadline) {
			return ErrTimeout
		}
	}
}

// sockErr returns the socket's pending error.
func (r *Ring) sockErr() error {
	if r.pfd[0].Revents&unix.POLLNVAL != 0 {
		return fmt.Errorf("afpacket: %s: poll: %w", r.cfg.Iface, unix.EBADF)
	}
	errno, err := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("afpacket: %s: SO_ERROR: %w", r.cfg.Iface, err)
	}
	if errno == 0 {
		return fmt.Errorf("afpacket: %s: socket error", r.cfg.Iface)
	}
	return fmt.Errorf("afpacket: %s: %w", r.cfg.Iface, unix.Errno(errno))
}

// Stats returns the counters, reading (and so resetting) the kernel's.
// Call it from the reader goroutine. After Close it returns the counters
// as they were at Close.
func (r *Ring) Stats() Stats {
	r.kernelStats()
	s := r.stats
	s.Packets, s.Bytes, s.Truncated, s.Damaged = r.w.packets, r.w.bytes, r.w.truncated, r.w.damaged
	return s
}

// kernelStats adds the kernel's counters since the last read.
func (r *Ring) kernelStats() {
	if r.fd < 0 {
		return
	}
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return
	}
	r.stats.KernelPackets += uint64(st.Packets)
	r.stats.Drops += uint64(st.Drops)
	r.stats.FreezeCount += uint64(st.Freeze_q_cnt)
}

// Close unmaps the ring and closes the socket; the Data of the last frame
// Next returned is gone with the ring. Call it from the reader goroutine
// (see Ring). Closing twice is harmless.
func (r *Ring) Close() error {
	if r.fd < 0 {
		return nil
	}
	r.kernelStats()
	return r.release()
}

// release unmaps and closes what Open set up so far.
func (r *Ring) release() error {
	var errs []error
	if r.mem != nil {
		if err := unix.Munmap(r.mem); err != nil {
			errs = append(errs, fmt.Errorf("afpacket: %s: munmap: %w", r.cfg.Iface, err))
		}
		r.mem = nil
		r.w.mem = nil
	}
	if r.fd >= 0 {
		if err := unix.Close(r.fd); err != nil {
			errs = append(errs, fmt.Errorf("afpacket: %s: close: %w", r.cfg.Iface, err))
		}
		r.fd = -1
	}
	return errors.Join(errs...)
}
