package netif

// Real-kernel tests. Each runs in a network namespace of its own, created
// for it and gone with it (the veth pairs live only there), so nothing is
// sent or changed outside. They need root (CAP_SYS_ADMIN to create the
// namespace, CAP_NET_ADMIN in it) and skip without it, or fail under CI
// (TAPWIRE_CI=1), where they must run.

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapwire/tapwire/drivers/testenv"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Interface names in the test namespaces; "tw" keeps them apart from
// anything a host has, in case one leaked (the cleanups check).
const (
	capName  = "twcap0"
	peerName = "twpeer0"
)

// enterNewNetns locks the test goroutine to its OS thread and moves that
// thread into a new network namespace until the test ends; then it goes
// back and the namespace, with everything in it, is freed. If going back
// fails, the thread stays locked and ends with the test's goroutine.
func enterNewNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "real-kernel test needs root (network namespaces, CAP_NET_ADMIN); run `go test` as root")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		testenv.Missing(t, "network namespaces unavailable: %v", err)
	}
	ns, err := netns.New()
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		testenv.Missing(t, "cannot create a network namespace: %v", err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netns.Set(orig); err != nil {
			t.Errorf("back to the original network namespace: %v", err)
			return
		}
		orig.Close()
		runtime.UnlockOSThread()
		for _, n := range []string{capName, peerName} {
			if _, err := netlink.LinkByName(n); err == nil {
				t.Errorf("%s exists outside the test namespace", n)
			}
		}
	})
}

// needEthtool skips a test that switches features when the ethtool ioctl
// is not there: qemu-user (the arm test runs) does not translate
// SIOCETHTOOL and answers ENOSYS. A kernel always has it.
func needEthtool(t *testing.T) {
	t.Helper()
	if _, err := ethtoolFeatures("lo"); errors.Is(err, unix.ENOSYS) {
		t.Skipf("the ethtool ioctl is not available here (an emulator such as qemu-user): %v", err)
	}
}

// addVeth creates a veth pair in the current namespace, both ends down.
func addVeth(t *testing.T, name, peer string) (netlink.Link, netlink.Link) {
	t.Helper()
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}); err != nil {
		t.Fatalf("create veth %s/%s: %v", name, peer, err)
	}
	return mustLink(t, name), mustLink(t, peer)
}

func mustLink(t *testing.T, name string) netlink.Link {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("link %s: %v", name, err)
	}
	return l
}

func mustDo(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func addrsOf(t *testing.T, l netlink.Link) []string {
	t.Helper()
	list, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list addresses of %s: %v", l.Attrs().Name, err)
	}
	var out []string
	for _, a := range list {
		out = append(out, a.IPNet.String())
	}
	return out
}

func readSysctl(t *testing.T, key string) string {
	t.Helper()
	v, err := linuxSystem{}.sysctl(key)
	if err != nil {
		t.Fatalf("sysctl %s: %v", key, err)
	}
	return v
}

// upPair brings both ends up and waits for carrier on name.
func upPair(t *testing.T, name, peer string) {
	t.Helper()
	mustDo(t, "set "+peer+" up", netlink.LinkSetUp(mustLink(t, peer)))
	mustDo(t, "set "+name+" up", netlink.LinkSetUp(mustLink(t, name)))
	waitUntil(t, name+" has carrier", func() bool {
		return mustLink(t, name).Attrs().RawFlags&unix.IFF_LOWER_UP != 0
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 5s waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKernelPrepare(t *testing.T) {
	tests := []struct {
		name string
		up   bool // the link is up before Prepare (else down, as at boot)
	}{
		{name: "link up with addresses", up: true},
		{name: "link down", up: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testKernelPrepare(t, tt.up) })
	}
}

func testKernelPrepare(t *testing.T, up bool) {
	enterNewNetns(t)
	needEthtool(t)
	capLink, _ := addVeth(t, capName, peerName)
	mustDo(t, "add IPv4 address", netlink.AddrAdd(capLink, mustAddr(t, "192.0.2.1/24")))
	mustDo(t, "add IPv6 address", netlink.AddrAdd(capLink, mustAddr(t, "2001:db8::1/64")))
	upPair(t, capName, peerName)
	// Up with carrier, the kernel gives it a link-local address too.
	waitUntil(t, capName+" has an IPv6 link-local address", func() bool {
		return slices.ContainsFunc(addrsOf(t, capLink), func(a string) bool { return strings.HasPrefix(a, "fe80:") })
	})
	if !up {
		// Down, it keeps its IPv4 address only.
		mustDo(t, "set "+capName+" down", netlink.LinkSetDown(capLink))
	}
	t.Logf("before: %s addresses %v", capName, addrsOf(t, capLink))
	featsBefore, err := ethtoolFeatures(capName)
	if err != nil {
		t.Fatal(err)
	}

	c := New()
	r, err := c.Prepare(capName, Options{})
	if err != nil {
		t.Fatalf("Prepare: %v\nreport: %v", err, r)
	}
	t.Logf("report: %v", r)
	for _, f := range r.Features {
		t.Logf("feature %-30s before %-5v after %-5v fixed %-5v err %v", f.Name, f.Before, f.After, f.Fixed, f.Err)
	}

	l := mustLink(t, capName)
	if fl := l.Attrs().RawFlags; fl&unix.IFF_UP == 0 || fl&unix.IFF_PROMISC == 0 {
		t.Errorf("%s flags %v: want up and promiscuous", capName, l.Attrs().Flags)
	}
	if a := addrsOf(t, l); len(a) != 0 {
		t.Errorf("%s still has addresses %v", capName, a)
	}
	for key, want := range map[string]string{
		sysctlKey("ipv6", capName, "disable_ipv6"):  "1",
		sysctlKey("ipv6", capName, "addr_gen_mode"): "1",
		sysctlKey("ipv4", capName, "arp_ignore"):    "8",
	} {
		if got := readSysctl(t, key); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}

	// Every offload the veth lets change is off; the others are reported.
	feats, err := ethtoolFeatures(capName)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Features) != len(DefaultOffloads) {
		t.Errorf("%d features reported, want %d", len(r.Features), len(DefaultOffloads))
	}
	for _, f := range r.Features {
		k, ok := feats[f.Name]
		switch {
		case !ok:
			if !errors.Is(f.Err, ErrUnknownFeature) {
				t.Errorf("%s: not in this kernel, reported %+v", f.Name, f)
			}
		case k.Active != f.After:
			t.Errorf("%s: kernel says active %v, report says after %v", f.Name, k.Active, f.After)
		case k.Active && f.Err == nil:
			t.Errorf("%s still on but not reported as refused: %+v", f.Name, f)
		case !k.fixed() && k.Active:
			t.Errorf("%s is changeable on a veth and still on", f.Name)
		case k.Requested:
			t.Errorf("%s is still wanted on", f.Name)
		}
	}
	if b, a := featsBefore["rx-vlan-hw-parse"], feats["rx-vlan-hw-parse"]; b.Active != a.Active {
		t.Errorf("rx-vlan-hw-parse changed from %v to %v; it must be kept", b.Active, a.Active)
	}
	if !r.Changed() {
		t.Error("first Prepare reports no change")
	}

	// Idempotent.
	r2, err := c.Prepare(capName, Options{})
	if err != nil {
		t.Fatalf("second Prepare: %v", err)
	}
	if r2.Changed() {
		t.Errorf("second Prepare changed something: %v", r2)
	}
	for _, f := range r2.Features {
		if f.Before != f.After {
			t.Errorf("second Prepare changed %+v", f)
		}
	}

	// Silent across a link bounce: no link-local address comes back.
	mustDo(t, "set down", netlink.LinkSetDown(l))
	mustDo(t, "set up", netlink.LinkSetUp(l))
	waitUntil(t, capName+" has carrier again", func() bool {
		return mustLink(t, capName).Attrs().RawFlags&unix.IFF_LOWER_UP != 0
	})
	time.Sleep(50 * time.Millisecond)
	if a := addrsOf(t, l); len(a) != 0 {
		t.Errorf("after a link bounce %s has addresses %v", capName, a)
	}
}

func TestKernelPrepareKeepAddresses(t *testing.T) {
	enterNewNetns(t)
	capLink, _ := addVeth(t, capName, peerName)
	mustDo(t, "add IPv4 address", netlink.AddrAdd(capLink, mustAddr(t, "192.0.2.1/24")))

	r, err := New().Prepare(capName, Options{KeepAddresses: true, SkipOffloads: true})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	l := mustLink(t, capName)
	if a := addrsOf(t, l); !slices.Contains(a, "192.0.2.1/24") {
		t.Errorf("addresses %v: KeepAddresses lost 192.0.2.1/24", a)
	}
	if got := readSysctl(t, sysctlKey("ipv6", capName, "disable_ipv6")); got != "0" {
		t.Errorf("disable_ipv6 = %s with KeepAddresses, want it left at 0", got)
	}
	if fl := l.Attrs().RawFlags; fl&unix.IFF_UP == 0 || fl&unix.IFF_PROMISC == 0 {
		t.Errorf("%s flags %v: want up and promiscuous", capName, l.Attrs().Flags)
	}
	if len(r.Features) != 0 {
		t.Errorf("features %v reported with SkipOffloads", r.Features)
	}
}

// With IPv6 left on, the addresses step removes the IPv6 addresses itself,
// the link-local one included.
func TestKernelPrepareSkipIPv6(t *testing.T) {
	enterNewNetns(t)
	capLink, _ := addVeth(t, capName, peerName)
	mustDo(t, "add IPv6 address", netlink.AddrAdd(capLink, mustAddr(t, "2001:db8::1/64")))
	upPair(t, capName, peerName)
	waitUntil(t, capName+" has an IPv6 link-local address", func() bool {
		return slices.ContainsFunc(addrsOf(t, capLink), func(a string) bool { return strings.HasPrefix(a, "fe80:") })
	})
	before := addrsOf(t, capLink)
	r, err := New().Prepare(capName, Options{SkipIPv6: true, SkipOffloads: true})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	st, _ := r.Step(StepAddresses)
	t.Logf("addresses before %v; step %+v", before, st)
	if a := addrsOf(t, capLink); len(a) != 0 {
		t.Errorf("%s still has addresses %v", capName, a)
	}
	for _, a := range before {
		if !strings.Contains(st.Detail, a) {
			t.Errorf("addresses step %q does not name %s", st.Detail, a)
		}
	}
}

// A feature the driver keeps on is reported, not an error. A veth lets all
// of DefaultOffloads change (kernel 6.18: only rx-lro and rx-gro-hw are
// fixed, and off), so the namespace's loopback device stands in: its
// "loopback" feature is on and fixed.
func TestKernelPrepareRefused(t *testing.T) {
	enterNewNetns(t)
	needEthtool(t)
	r, err := New().Prepare("lo", Options{
		KeepAddresses: true, SkipPromisc: true, SkipUp: true,
		Offloads: []string{"loopback", "tx-tcp-segmentation", "no-such-feature"},
	})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	t.Logf("report: %v", r)
	want := []Feature{
		{Name: "loopback", Before: true, After: true, Fixed: true, Err: ErrFixed},
		{Name: "tx-tcp-segmentation", Before: true},
		{Name: "no-such-feature", Err: ErrUnknownFeature},
	}
	if !slices.Equal(r.Features, want) {
		t.Errorf("features\n%+v\nwant\n%+v", r.Features, want)
	}
	if ref := r.Refused(); len(ref) != 1 || ref[0].Name != "loopback" {
		t.Errorf("Refused() = %+v, want loopback", ref)
	}
}

func TestKernelNoInterface(t *testing.T) {
	enterNewNetns(t)
	c := New()
	_, err := c.Prepare("twnone0", Options{})
	if !errors.Is(err, ErrNoInterface) || err.Error() != "netif: twnone0: look up link: no such interface" {
		t.Errorf("Prepare(twnone0) error = %v, want ErrNoInterface", err)
	}
	_, err = c.Counters("twnone0")
	if !errors.Is(err, ErrNoInterface) || err.Error() != "netif: twnone0: read counters: no such interface" {
		t.Errorf("Counters(twnone0) error = %v, want ErrNoInterface", err)
	}
}

// nextEvent waits for an event of name that matches, skipping (and logging)
// others, such as a transient state between two flag changes.
func nextEvent(t *testing.T, ch <-chan LinkEvent, what string, match func(LinkEvent) bool) LinkEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed, waiting for %s", what)
			}
			if match(ev) {
				t.Logf("event %s %s admin_up=%v carrier=%v appeared=%v index=%d", ev.Name, ev.State, ev.AdminUp, ev.Carrier, ev.Appeared, ev.Index)
				return ev
			}
			t.Logf("skipped event %+v, waiting for %s", ev, what)
		case <-timeout:
			t.Fatalf("no event within 5s: waiting for %s", what)
		}
	}
}

func TestKernelWatch(t *testing.T) {
	enterNewNetns(t)
	addVeth(t, capName, peerName)
	upPair(t, capName, peerName)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := New().Watch(ctx, []string{capName, "twmissing0"})
	if err != nil {
		t.Fatal(err)
	}
	isCap := func(s LinkState) func(LinkEvent) bool {
		return func(ev LinkEvent) bool { return ev.Name == capName && ev.State == s }
	}

	// The first events are the current states, in the order of the names.
	if ev := <-ch; ev.Name != capName || ev.State != LinkUp || !ev.Carrier || ev.Time.IsZero() {
		t.Errorf("first event %+v, want %s up with carrier and a time", ev, capName)
	}
	if ev := <-ch; ev.Name != "twmissing0" || ev.State != LinkAbsent {
		t.Errorf("second event %+v, want twmissing0 absent", ev)
	}

	mustDo(t, "set peer down", netlink.LinkSetDown(mustLink(t, peerName)))
	if ev := nextEvent(t, ch, "carrier lost", isCap(LinkDown)); !ev.AdminUp || ev.Carrier {
		t.Errorf("peer down: %+v, want admin up without carrier", ev)
	}
	mustDo(t, "set peer up", netlink.LinkSetUp(mustLink(t, peerName)))
	nextEvent(t, ch, "carrier back", isCap(LinkUp))

	mustDo(t, "set link down", netlink.LinkSetDown(mustLink(t, capName)))
	if ev := nextEvent(t, ch, "admin down", isCap(LinkDown)); ev.AdminUp {
		t.Errorf("link down: %+v, want admin down", ev)
	}

	// The interface disappears and comes back under the same name.
	oldIndex := mustLink(t, capName).Attrs().Index
	mustDo(t, "delete veth", netlink.LinkDel(mustLink(t, capName)))
	nextEvent(t, ch, "gone", isCap(LinkAbsent))
	addVeth(t, capName, peerName)
	ev := nextEvent(t, ch, "back", func(ev LinkEvent) bool { return ev.Name == capName && ev.State != LinkAbsent })
	if !ev.Appeared || ev.Index == oldIndex {
		t.Errorf("back: %+v, want Appeared with a new index (old %d)", ev, oldIndex)
	}
	upPair(t, capName, peerName)
	if ev := nextEvent(t, ch, "up again", isCap(LinkUp)); ev.Appeared {
		t.Errorf("up again: %+v, Appeared only on the first event", ev)
	}

	cancel()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("watch channel not closed 5s after cancel")
		}
	}
}

// When the subscription breaks (as on a socket overrun), Watch subscribes
// again and reads the states again: a change made while it was blind is
// reported.
func TestKernelWatchResubscribes(t *testing.T) {
	enterNewNetns(t)
	addVeth(t, capName, peerName)
	upPair(t, capName, peerName)

	w, sub, err := startWatch([]string{capName})
	if err != nil {
		t.Fatal(err)
	}
	// Run on a subscription the test controls, and end the real one.
	sub.stop()
	broken := &subscription{updates: make(chan netlink.LinkUpdate), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.run(ctx, broken)
	ch := w.out
	if ev := <-ch; ev.Name != capName || ev.State != LinkUp {
		t.Fatalf("first event %+v, want %s up", ev, capName)
	}

	mustDo(t, "set peer down", netlink.LinkSetDown(mustLink(t, peerName)))
	close(broken.updates) // the subscription breaks
	nextEvent(t, ch, "carrier lost, seen by the new snapshot", func(ev LinkEvent) bool {
		return ev.Name == capName && ev.State == LinkDown
	})
	// And the new subscription works.
	mustDo(t, "set peer up", netlink.LinkSetUp(mustLink(t, peerName)))
	nextEvent(t, ch, "carrier back", func(ev LinkEvent) bool { return ev.Name == capName && ev.State == LinkUp })
	cancel()
	for range ch {
	}
}

func TestKernelCounters(t *testing.T) {
	enterNewNetns(t)
	addVeth(t, capName, peerName)
	c := New()
	if _, err := c.Prepare(capName, Options{SkipOffloads: true}); err != nil {
		t.Fatal(err)
	}
	upPair(t, capName, peerName)
	before, err := c.Counters(capName)
	if err != nil {
		t.Fatal(err)
	}

	// The peer sends broadcast frames of the local experimental ethertype
	// 0x88b5 straight onto the veth, inside this namespace.
	peer := mustLink(t, peerName)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	defer unix.Close(fd)
	frame := make([]byte, 60)
	copy(frame[0:6], net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // destination: broadcast
	copy(frame[6:12], peer.Attrs().HardwareAddr)                           // source: the peer
	frame[12], frame[13] = 0x88, 0xb5                                      // ethertype: local experimental
	to := &unix.SockaddrLinklayer{Ifindex: peer.Attrs().Index, Halen: 6}
	copy(to.Addr[:], frame[0:6])
	const n = 10
	for range n {
		mustDo(t, "send a frame from the peer", unix.Sendto(fd, frame, 0, to))
	}

	var after Counters
	waitUntil(t, "rx counters grow", func() bool {
		after, err = c.Counters(capName)
		return err == nil && after.RxPackets >= before.RxPackets+n
	})
	if after.RxBytes < before.RxBytes+n*uint64(len(frame)) {
		t.Errorf("rx bytes %d → %d, want %d more", before.RxBytes, after.RxBytes, n*len(frame))
	}
	if after.TxPackets != before.TxPackets {
		t.Errorf("%s sent %d packets: a capture port must be silent", capName, after.TxPackets-before.TxPackets)
	}
	t.Logf("counters before %+v after %+v", before, after)
}

func mustAddr(t *testing.T, s string) *netlink.Addr {
	t.Helper()
	a, err := netlink.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Reading features needs no privilege and no namespace: the loopback device
// of the namespace the test runs in is enough.
func TestKernelReadFeaturesLoopback(t *testing.T) {
	needEthtool(t)
	feats, err := ethtoolFeatures("lo")
	if err != nil {
		t.Fatalf("read features of lo: %v", err)
	}
	if _, ok := feats["rx-gro"]; !ok {
		t.Errorf("lo has no rx-gro feature among %d", len(feats))
	}
	if f := feats["loopback"]; !f.Active || !f.fixed() {
		t.Errorf("lo: feature loopback %+v, want active and fixed", f)
	}
}
