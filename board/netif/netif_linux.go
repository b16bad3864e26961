package netif

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// New returns the kernel's Controller: rtnetlink (github.com/vishvananda/
// netlink), the ethtool ioctl and /proc/sys, in the network namespace of the
// calling OS thread.
func New() Controller { return controller{} }

type controller struct{}

func (controller) Prepare(name string, opts Options) (Report, error) {
	return prepare(linuxSystem{}, name, opts)
}

func (controller) Counters(name string) (Counters, error) {
	fail := func(err error) (Counters, error) {
		return Counters{}, &Error{Iface: name, Op: "read counters", Err: err}
	}
	if !validName(name) {
		return fail(errors.New("invalid interface name"))
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fail(linkErr(err))
	}
	s := l.Attrs().Statistics
	if s == nil {
		return fail(errors.New("kernel sent no statistics"))
	}
	return Counters{
		RxPackets: s.RxPackets, RxBytes: s.RxBytes, RxErrors: s.RxErrors,
		RxDropped: s.RxDropped, RxMissed: s.RxMissedErrors,
		TxPackets: s.TxPackets, TxBytes: s.TxBytes, TxErrors: s.TxErrors,
		TxDropped: s.TxDropped,
	}, nil
}

// linkErr makes the library's "Link not found" ErrNoInterface.
func linkErr(err error) error {
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return ErrNoInterface
	}
	return err
}

// linuxSystem is system on rtnetlink, the ethtool ioctl and /proc/sys.
type linuxSystem struct{}

func (linuxSystem) link(name string) (linkInfo, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return linkInfo{}, linkErr(err)
	}
	a := l.Attrs()
	return linkInfo{
		Index:   a.Index,
		Name:    a.Name,
		Up:      a.RawFlags&unix.IFF_UP != 0,
		Promisc: a.RawFlags&unix.IFF_PROMISC != 0,
		sys:     l,
	}, nil
}

func (linuxSystem) sysctl(key string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + key)
	return strings.TrimSpace(string(b)), err
}

func (linuxSystem) setSysctl(key, value string) error {
	f, err := os.OpenFile("/proc/sys/"+key, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(value); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (linuxSystem) setAddrGenModeNone(l linkInfo) error {
	return netlink.LinkSetIP6AddrGenMode(l.sys.(netlink.Link), nl.IN6_ADDR_GEN_MODE_NONE)
}

func (linuxSystem) addrs(l linkInfo) ([]address, error) {
	list, err := netlink.AddrList(l.sys.(netlink.Link), netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	out := make([]address, 0, len(list))
	for _, a := range list {
		if a.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, address{Prefix: netip.PrefixFrom(ip.Unmap(), ones), sys: a})
	}
	return out, nil
}

func (linuxSystem) delAddr(l linkInfo, a address) error {
	na := a.sys.(netlink.Addr)
	err := netlink.AddrDel(l.sys.(netlink.Link), &na)
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		return nil // gone already (disable_ipv6 takes the IPv6 ones away)
	}
	return err
}

func (linuxSystem) features(name string) (map[string]featureBits, error) {
	return ethtoolFeatures(name)
}

func (linuxSystem) setFeatures(name string, off []string) error {
	return ethtoolSetOff(name, off)
}

func (linuxSystem) setPromisc(l linkInfo) error {
	return netlink.SetPromiscOn(l.sys.(netlink.Link))
}

func (linuxSystem) setUp(l linkInfo) error {
	return netlink.LinkSetUp(l.sys.(netlink.Link))
}

// Watch subscribes to rtnetlink link notifications in the calling thread's
// network namespace, then reads each name's current state. When the
// subscription breaks (a socket overrun drops notifications), it subscribes
// again in the same namespace and reads the states again, so that no change
// is lost for good.
func (controller) Watch(ctx context.Context, names []string) (<-chan LinkEvent, error) {
	w, sub, err := startWatch(names)
	if err != nil {
		return nil, err
	}
	go w.run(ctx, sub)
	return w.out, nil
}

// startWatch subscribes and takes the first snapshot; run does the rest.
func startWatch(names []string) (*watcher, *subscription, error) {
	fail := func(op string, err error) (*watcher, *subscription, error) {
		return nil, nil, &Error{Iface: strings.Join(names, ","), Op: op, Err: err}
	}
	if len(names) == 0 {
		return fail("watch", errors.New("no interface named"))
	}
	for _, n := range names {
		if !validName(n) {
			return fail("watch", errors.New("invalid interface name "+n))
		}
	}
	ns, err := netns.Get()
	if err != nil {
		return fail("open network namespace", err)
	}
	w := &watcher{
		ns:      ns,
		names:   append([]string(nil), names...),
		tracker: newTracker(names),
		out:     make(chan LinkEvent, 2*len(names)+8),
	}
	if w.h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE); err != nil {
		ns.Close()
		return fail("open netlink", err)
	}
	sub, err := w.subscribe()
	if err != nil {
		w.close()
		return fail("subscribe", err)
	}
	return w, sub, nil
}

// watcher is one Watch: its namespace, its tracker and its output.
type watcher struct {
	ns      netns.NsHandle
	h       *netlink.Handle // for snapshots, in ns
	names   []string
	tracker *tracker
	out     chan LinkEvent
	pending []LinkEvent
}

// subscription is one rtnetlink subscription; updates is closed when it
// has ended (stop) or broke.
type subscription struct {
	updates chan netlink.LinkUpdate
	done    chan struct{}
}

// stop closes the socket and drains what the library's reader still has to
// send, so that its goroutine ends.
func (s *subscription) stop() {
	close(s.done)
	go func() {
		for range s.updates {
		}
	}()
}

func (w *watcher) subscribe() (*subscription, error) {
	s := &subscription{updates: make(chan netlink.LinkUpdate, 64), done: make(chan struct{})}
	ns := w.ns
	err := netlink.LinkSubscribeWithOptions(s.updates, s.done, netlink.LinkSubscribeOptions{
		Namespace: &ns,
		// Errors end the subscription (the channel closes); run
		// subscribes again, so there is nothing more to do here.
		ErrorCallback:     func(error) {},
		ReceiveBufferSize: 1 << 20,
	})
	if err != nil {
		close(s.done)
		return nil, err
	}
	// The snapshot comes after the subscription, so that no change falls
	// between the two; a change seen twice is reported once.
	w.snapshot()
	return s, nil
}

// snapshot reads each watched name's state now.
func (w *watcher) snapshot() {
	now := time.Now().UTC()
	for _, n := range w.names {
		l, err := w.h.LinkByName(n)
		if errors.Is(linkErr(err), ErrNoInterface) {
			w.pending = w.tracker.absent(n, now, w.pending)
			continue
		}
		if err != nil {
			continue // a later notification tells
		}
		w.pending = w.tracker.update(msgOf(l, false), now, w.pending)
	}
}

func msgOf(l netlink.Link, deleted bool) linkMsg {
	a := l.Attrs()
	return linkMsg{
		Name: a.Name, Index: a.Index, Deleted: deleted,
		Up:      a.RawFlags&unix.IFF_UP != 0,
		Carrier: a.RawFlags&unix.IFF_LOWER_UP != 0,
	}
}

func (w *watcher) close() {
	if w.h != nil {
		w.h.Close()
	}
	w.ns.Close()
}

// run delivers events until ctx ends, subscribing again when the
// subscription breaks.
func (w *watcher) run(ctx context.Context, sub *subscription) {
	defer close(w.out)
	defer w.close()
	backoff := 50 * time.Millisecond
	for {
		// Send what is pending, while still reading notifications.
		var out chan<- LinkEvent
		var next LinkEvent
		if len(w.pending) > 0 {
			out, next = w.out, w.pending[0]
		}
		select {
		case <-ctx.Done():
			sub.stop()
			return
		case out <- next:
			w.pending = w.pending[1:]
		case u, ok := <-sub.updates:
			if ok {
				deleted := u.Header.Type == unix.RTM_DELLINK
				w.pending = w.tracker.update(msgOf(u.Link, deleted), time.Now().UTC(), w.pending)
				backoff = 50 * time.Millisecond
				continue
			}
			// The subscription broke: subscribe again.
			sub.stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 5*time.Second)
				s, err := w.subscribe()
				if err == nil {
					sub = s
					break
				}
			}
		}
	}
}
