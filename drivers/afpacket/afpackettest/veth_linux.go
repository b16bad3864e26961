package afpackettest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NS is a network namespace held by a file descriptor.
type NS struct {
	fd int
}

// Do runs fn on an OS thread that is inside ns for the duration of fn.
// Sockets fn creates stay in ns for their lifetime, whichever thread uses
// them later; child processes fn starts (exec) run in ns.
func (ns NS) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("afpackettest: open own namespace: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("afpackettest: setns: %w", err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// The thread stays locked, so the runtime ends it with the
		// goroutine rather than reuse it in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("afpackettest: back to the original namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// newNS creates a network namespace, leaving the calling thread where it was.
func newNS() (NS, error) {
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return NS{}, err
	}
	defer unix.Close(orig)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return NS{}, fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
	}
	fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if serr := unix.Setns(orig, unix.CLONE_NEWNET); serr != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return NS{}, fmt.Errorf("back to the original namespace: %w", serr)
	}
	runtime.UnlockOSThread()
	if err != nil {
		return NS{}, err
	}
	return NS{fd: fd}, nil
}

// Veth is a veth pair between two fresh namespaces: IfA in A, IfB in B,
// both up, IPv6 off (so the kernel sends nothing on its own), no
// addresses.
type Veth struct {
	A, B       NS
	IfA, IfB   string
	MACA, MACB net.HardwareAddr
}

// Fixed addresses of the pair (locally administered).
var (
	MACA = net.HardwareAddr{0x02, 0x74, 0x77, 0, 0, 0x0a}
	MACB = net.HardwareAddr{0x02, 0x74, 0x77, 0, 0, 0x0b}
)

// NewVeth creates the namespaces and the pair, removed when the test ends
// (after the test's later cleanups, so sockets opened in them close first).
// It skips the test when not root, when namespaces cannot be created, when
// `ip` is missing, or when this kernel (or qemu-user, which cannot) cannot
// set up a TPACKET_V3 ring.
func NewVeth(tb testing.TB) *Veth {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("afpackettest: real-kernel capture tests need root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN)")
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		tb.Skipf("afpackettest: the ip command (iproute2) is not installed: %v", err)
	}
	a, err := newNS()
	if err != nil {
		tb.Skipf("afpackettest: cannot create a network namespace: %v", err)
	}
	tb.Cleanup(func() { unix.Close(a.fd) })
	b, err := newNS()
	if err != nil {
		tb.Skipf("afpackettest: cannot create a network namespace: %v", err)
	}
	tb.Cleanup(func() { unix.Close(b.fd) })
	if err := b.Do(probeRing); err != nil {
		tb.Skipf("afpackettest: this kernel cannot set up a TPACKET_V3 ring (qemu-user cannot): %v", err)
	}
	v := &Veth{A: a, B: b, IfA: "twa", IfB: "twb", MACA: MACA, MACB: MACB}
	ip := func(ns NS, files []*os.File, args ...string) error {
		return ns.Do(func() error {
			cmd := exec.Command(ipPath, args...)
			cmd.ExtraFiles = files
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
			return nil
		})
	}
	for _, ns := range []NS{a, b} {
		ns.Do(disableIPv6)
	}
	dup, err := unix.Dup(b.fd)
	if err != nil {
		tb.Fatal(err)
	}
	bFile := os.NewFile(uintptr(dup), "netns-b")
	// The child sees B's namespace as its fd 3.
	err = ip(a, []*os.File{bFile}, "link", "add", v.IfA, "address", MACA.String(), "type", "veth",
		"peer", "name", v.IfB, "address", MACB.String(), "netns", "/proc/self/fd/3")
	bFile.Close()
	if err != nil {
		tb.Fatal(err)
	}
	if err := ip(a, nil, "link", "set", v.IfA, "up"); err != nil {
		tb.Fatal(err)
	}
	if err := ip(b, nil, "link", "set", v.IfB, "up"); err != nil {
		tb.Fatal(err)
	}
	// The kernel attaches a device's queueing discipline only when its
	// link-watch work sees the carrier, asynchronously and, on a busy
	// machine, up to a second or more later; until then the device drops
	// what is sent. Wait for both ends to be operationally up with their
	// qdisc.
	deadline := time.Now().Add(15 * time.Second)
	for _, end := range []struct {
		ns   NS
		name string
	}{{a, v.IfA}, {b, v.IfB}} {
		for {
			var out []byte
			err := end.ns.Do(func() (err error) {
				out, err = exec.Command(ipPath, "-o", "link", "show", "dev", end.name).CombinedOutput()
				return err
			})
			if err != nil {
				tb.Fatalf("afpackettest: ip link show %s: %v: %s", end.name, err, out)
			}
			if s := string(out); strings.Contains(s, "qdisc noqueue") && strings.Contains(s, "state UP") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("afpackettest: %s is not up after 15 s: %s", end.name, out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return v
}

// disableIPv6 turns IPv6 off in the calling thread's namespace, so that
// the interfaces send no router solicitations or MLD reports; best effort.
func disableIPv6() error {
	for _, p := range []string{"/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/default/disable_ipv6"} {
		os.WriteFile(p, []byte("1\n"), 0)
	}
	return nil
}

// probeRing sets up (and drops) a small TPACKET_V3 RX ring on an unbound
// socket.
func probeRing() error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket(AF_PACKET): %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("PACKET_VERSION: %w", err)
	}
	page := os.Getpagesize()
	req := unix.TpacketReq3{Block_size: uint32(page), Block_nr: 1, Frame_size: uint32(page), Frame_nr: 1, Retire_blk_tov: 10}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_RX_RING: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	return unix.Munmap(mem)
}

// Sender sends raw frames out of one end of the pair.
type Sender struct {
	fd int
}

// Sender returns a raw packet socket in A that sends out of IfA, closed
// when the test ends.
func (v *Veth) Sender(tb testing.TB) *Sender {
	tb.Helper()
	s := &Sender{fd: -1}
	err := v.A.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0) // protocol 0: receives nothing
		if err != nil {
			return err
		}
		s.fd = fd
		ifi, err := net.InterfaceByName(v.IfA)
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index})
	})
	if s.fd >= 0 {
		tb.Cleanup(func() { unix.Close(s.fd) })
	}
	if err != nil {
		tb.Fatalf("afpackettest: sender on %s: %v", v.IfA, err)
	}
	return s
}

// Send sends one Ethernet frame (header included).
func (s *Sender) Send(frame []byte) error {
	for {
		_, err := unix.Write(s.fd, frame)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ENOBUFS {
			runtime.Gosched()
			continue
		}
		return err
	}
}

// Flow is an IPv4/UDP 5-tuple.
type Flow struct {
	Src, Dst         [4]byte
	SrcPort, DstPort uint16
}

// Reverse is the flow's other direction.
func (f Flow) Reverse() Flow {
	return Flow{Src: f.Dst, Dst: f.Src, SrcPort: f.DstPort, DstPort: f.SrcPort}
}

// UDPFrame returns an Ethernet/IPv4/UDP frame of size bytes (at least 46)
// from A to B for flow f whose payload starts with seq (big endian) and is
// filled after it with bytes counting up from seq. The IPv4 checksum is
// set, the UDP one is 0 (none).
//
//	02 74 77 00 00 0b  destination (B)    02 74 77 00 00 0a  source (A)
//	08 00              IPv4
//	45 00 LL LL 00 00 40 00 40 11 CC CC SS SS SS SS DD DD DD DD   IPv4 header, DF, TTL 64, UDP
//	PP PP QQ QQ LL LL 00 00                                       UDP header
//	seq (4 bytes), then seq+4, seq+5, …                            payload
func UDPFrame(f Flow, seq uint32, size int) []byte {
	const ethLen, ipLen, udpLen = 14, 20, 8
	if size < ethLen+ipLen+udpLen+4 {
		size = ethLen + ipLen + udpLen + 4
	}
	b := make([]byte, size)
	copy(b[0:6], MACB)
	copy(b[6:12], MACA)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[ethLen:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(size-ethLen))
	ip[6] = 0x40 // DF
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], f.Src[:])
	copy(ip[16:20], f.Dst[:])
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip[:ipLen]))
	udp := ip[ipLen:]
	binary.BigEndian.PutUint16(udp[0:], f.SrcPort)
	binary.BigEndian.PutUint16(udp[2:], f.DstPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(size-ethLen-ipLen))
	pl := udp[udpLen:]
	binary.BigEndian.PutUint32(pl, seq)
	for i := 4; i < len(pl); i++ {
		pl[i] = byte(seq) + byte(i)
	}
	return b
}

// UDPSeq returns the sequence number UDPFrame put in an untagged frame.
func UDPSeq(frame []byte) (uint32, bool) {
	if len(frame) < 46 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 || frame[23] != 17 {
		return 0, false
	}
	return binary.BigEndian.Uint32(frame[42:]), true
}

// UDPFlow returns the 5-tuple of an untagged UDPFrame.
func UDPFlow(frame []byte) Flow {
	var f Flow
	copy(f.Src[:], frame[26:30])
	copy(f.Dst[:], frame[30:34])
	f.SrcPort = binary.BigEndian.Uint16(frame[34:])
	f.DstPort = binary.BigEndian.Uint16(frame[36:])
	return f
}

// Tag inserts an 802.1Q tag with TCI tci after the addresses of frame.
func Tag(frame []byte, tci uint16) []byte {
	out := make([]byte, 0, len(frame)+4)
	out = append(out, frame[:12]...)
	out = binary.BigEndian.AppendUint16(out, 0x8100)
	out = binary.BigEndian.AppendUint16(out, tci)
	return append(out, frame[12:]...)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// PinThread locks the calling goroutine to its OS thread and that thread
// to one CPU (the first it may run on), so that the frames it sends all go
// through one CPU's receive backlog and keep their order. The returned
// func undoes both.
func PinThread(tb testing.TB) (unpin func()) {
	tb.Helper()
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		tb.Fatalf("afpackettest: sched_getaffinity: %v", err)
	}
	var one unix.CPUSet
	for c := 0; c < len(old)*64; c++ {
		if old.IsSet(c) {
			one.Set(c)
			break
		}
	}
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		runtime.UnlockOSThread()
		tb.Fatalf("afpackettest: sched_setaffinity: %v", err)
	}
	return func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	}
}
