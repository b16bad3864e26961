package netif

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
)

// system is the kernel as Prepare sees it. The Linux controller implements
// it with rtnetlink, the ethtool ioctl and /proc/sys; the unit tests with a
// simulated kernel, so the order of the steps, the options and the error
// wrapping are tested without root.
type system interface {
	link(name string) (linkInfo, error)
	// sysctl reads /proc/sys/<key>; an absent key is fs.ErrNotExist.
	sysctl(key string) (string, error)
	setSysctl(key, value string) error
	setAddrGenModeNone(l linkInfo) error
	addrs(l linkInfo) ([]address, error)
	delAddr(l linkInfo, a address) error
	features(name string) (map[string]featureBits, error)
	// setFeatures switches the named features off (they exist and are
	// changeable: Prepare checked).
	setFeatures(name string, off []string) error
	setPromisc(l linkInfo) error
	setUp(l linkInfo) error
}

// linkInfo is what Prepare needs of a link; sys is the implementation's own
// handle on it.
type linkInfo struct {
	Index   int
	Name    string
	Up      bool // IFF_UP
	Promisc bool // IFF_PROMISC as set by a user (not a packet socket's count)
	sys     any
}

// address is an interface address; sys is the implementation's own handle.
type address struct {
	Prefix netip.Prefix
	sys    any
}

// featureBits is one feature as ETHTOOL_GFEATURES reports it.
type featureBits struct {
	Available    bool // the driver lets it change (hw_features)
	Requested    bool // wanted by the user (wanted_features)
	Active       bool // on now (features)
	NeverChanged bool // never changeable (NETIF_F_NEVER_CHANGE)
}

func (f featureBits) fixed() bool { return !f.Available || f.NeverChanged }

// sysctlKey is the /proc/sys path of a per-interface setting: dots in the
// interface name (VLAN devices, eth1.100) are slashes there.
func sysctlKey(proto, iface, leaf string) string {
	return "net/" + proto + "/conf/" + strings.ReplaceAll(iface, ".", "/") + "/" + leaf
}

// arpIgnoreSilent is arp_ignore 8: do not reply for any local address.
const arpIgnoreSilent = "8"

// addrGenModeNone is IN6_ADDR_GEN_MODE_NONE as /proc/sys shows it.
const addrGenModeNone = "1"

// addrGenModeName names the IPv6 address generation modes of
// linux/if_link.h (enum in6_addr_gen_mode) as `ip link` does.
func addrGenModeName(mode string) string {
	switch mode {
	case "0":
		return "eui64"
	case "1":
		return "none"
	case "2":
		return "stable_secret"
	case "3":
		return "random"
	}
	return mode
}

// prepare runs the steps of Controller.Prepare against sys.
func prepare(sys system, name string, opts Options) (Report, error) {
	r := Report{Iface: name}
	fail := func(op string, err error) (Report, error) {
		return r, &Error{Iface: name, Op: op, Err: err}
	}
	if !validName(name) {
		return fail("look up link", fmt.Errorf("invalid interface name %q", name))
	}
	l, err := sys.link(name)
	if err != nil {
		return fail("look up link", err)
	}
	r.Index = l.Index

	type stepFunc func(sys system, l linkInfo, opts Options, r *Report) (Step, *Error)
	steps := []struct {
		name string
		skip bool
		run  stepFunc
	}{
		{StepIPv6, opts.SkipIPv6 || opts.KeepAddresses, stepIPv6},
		{StepARP, opts.SkipARP || opts.KeepAddresses, stepARP},
		{StepAddresses, opts.KeepAddresses, stepAddresses},
		{StepOffloads, opts.SkipOffloads, stepOffloads},
		{StepPromisc, opts.SkipPromisc, stepPromisc},
		{StepUp, opts.SkipUp, stepUp},
	}
	for _, s := range steps {
		if s.skip {
			r.Steps = append(r.Steps, Step{Name: s.name, Skipped: true})
			continue
		}
		st, e := s.run(sys, l, opts, &r)
		st.Name = s.name
		if e != nil {
			e.Iface = name
			st.Err = e.Err
			r.Steps = append(r.Steps, st)
			return r, e
		}
		r.Steps = append(r.Steps, st)
	}
	return r, nil
}

// stepIPv6 sets addr_gen_mode none and disable_ipv6 1. Either one keeps the
// kernel from giving the interface a link-local address; disable_ipv6 also
// stops everything else IPv6 would send. It fails only when neither works.
func stepIPv6(sys system, l linkInfo, _ Options, _ *Report) (Step, *Error) {
	var st Step
	disableKey := sysctlKey("ipv6", l.Name, "disable_ipv6")
	disabled, err := sys.sysctl(disableKey)
	if errors.Is(err, fs.ErrNotExist) {
		if _, allErr := sys.sysctl("net/ipv6/conf/all/disable_ipv6"); errors.Is(allErr, fs.ErrNotExist) {
			st.Detail = "IPv6 not in this kernel"
			return st, nil
		}
		return st, &Error{Op: "read disable_ipv6", Err: err}
	}
	var did []string

	// addr_gen_mode first: it holds even if the sysctl cannot be written.
	mode, modeErr := sys.sysctl(sysctlKey("ipv6", l.Name, "addr_gen_mode"))
	genErr := error(nil)
	switch {
	case modeErr == nil && mode == addrGenModeNone:
		did = append(did, "addr_gen_mode none")
	default:
		if genErr = sys.setAddrGenModeNone(l); genErr == nil {
			d := "addr_gen_mode none"
			if modeErr == nil {
				d += " (was " + addrGenModeName(mode) + ")"
			}
			did = append(did, d)
			st.Changed = true
		}
	}

	var disErr error
	switch {
	case err != nil:
		disErr = fmt.Errorf("read disable_ipv6: %w", err)
	case disabled == "1":
		did = append(did, "disable_ipv6 1")
	default:
		if disErr = sys.setSysctl(disableKey, "1"); disErr == nil {
			did = append(did, "disable_ipv6 1 (was "+disabled+")")
			st.Changed = true
		} else {
			disErr = fmt.Errorf("set disable_ipv6: %w", disErr)
		}
	}
	st.Detail = strings.Join(did, ", ")

	switch {
	case disErr != nil && genErr != nil:
		return st, &Error{Op: "disable IPv6", Err: errors.Join(genErr, disErr)}
	case disErr != nil:
		st.Err = disErr // addr_gen_mode none keeps the link-local away
	case genErr != nil:
		st.Err = fmt.Errorf("set addr_gen_mode: %w", genErr) // disable_ipv6 covers it
	}
	return st, nil
}

// stepARP sets arp_ignore 8, so that the kernel answers no ARP request on
// the capture port, not even for addresses of other interfaces.
func stepARP(sys system, l linkInfo, _ Options, _ *Report) (Step, *Error) {
	var st Step
	key := sysctlKey("ipv4", l.Name, "arp_ignore")
	cur, err := sys.sysctl(key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, allErr := sys.sysctl("net/ipv4/conf/all/arp_ignore"); errors.Is(allErr, fs.ErrNotExist) {
			st.Detail = "IPv4 not in this kernel"
			return st, nil
		}
		return st, &Error{Op: "read arp_ignore", Err: err}
	case err != nil:
		return st, &Error{Op: "read arp_ignore", Err: err}
	case cur == arpIgnoreSilent:
		st.Detail = "arp_ignore 8"
		return st, nil
	}
	if err := sys.setSysctl(key, arpIgnoreSilent); err != nil {
		return st, &Error{Op: "set arp_ignore", Err: err}
	}
	st.Changed = true
	st.Detail = "arp_ignore 8 (was " + cur + ")"
	return st, nil
}

// stepAddresses removes every address from the interface.
func stepAddresses(sys system, l linkInfo, _ Options, _ *Report) (Step, *Error) {
	var st Step
	addrs, err := sys.addrs(l)
	if err != nil {
		return st, &Error{Op: "list addresses", Err: err}
	}
	var removed []string
	for _, a := range addrs {
		if err := sys.delAddr(l, a); err != nil {
			st.Detail = detailRemoved(removed)
			return st, &Error{Op: "remove address " + a.Prefix.String(), Err: err}
		}
		removed = append(removed, a.Prefix.String())
		st.Changed = true
	}
	st.Detail = detailRemoved(removed)
	return st, nil
}

func detailRemoved(removed []string) string {
	if len(removed) == 0 {
		return "none"
	}
	return "removed " + strings.Join(removed, " ")
}

// stepOffloads switches the distorting features off and records, per
// feature, its state before and after and why it is still on.
func stepOffloads(sys system, l linkInfo, opts Options, r *Report) (Step, *Error) {
	var st Step
	want := opts.Offloads
	if want == nil {
		want = DefaultOffloads
	}
	before, err := sys.features(l.Name)
	if err != nil {
		return st, &Error{Op: "read offloads", Err: err}
	}
	var off []string
	for _, name := range want {
		f, ok := before[name]
		// Clear a wanted bit too, where a dependency keeps the feature
		// off for now: it must not come back on later.
		if ok && !f.fixed() && (f.Active || f.Requested) {
			off = append(off, name)
		}
	}
	after := before
	if len(off) > 0 {
		if err := sys.setFeatures(l.Name, off); err != nil {
			return st, &Error{Op: "set offloads", Err: err}
		}
		st.Changed = true
		if after, err = sys.features(l.Name); err != nil {
			return st, &Error{Op: "read offloads", Err: err}
		}
	}

	var switched, already, refused, unknown []string
	for _, name := range want {
		b, ok := before[name]
		a := after[name]
		f := Feature{Name: name, Before: b.Active, After: a.Active, Fixed: ok && a.fixed()}
		switch {
		case !ok:
			f.Err = ErrUnknownFeature
		case a.Active && f.Fixed:
			f.Err = ErrFixed
		case a.Active:
			f.Err = ErrRefused
		}
		switch {
		case f.After:
			refused = append(refused, name)
		case f.Before:
			switched = append(switched, name)
		case ok:
			already = append(already, name)
		default:
			unknown = append(unknown, name)
		}
		r.Features = append(r.Features, f)
	}
	var parts []string
	if len(switched) > 0 {
		parts = append(parts, "switched off "+strings.Join(switched, " "))
	}
	if len(already) > 0 {
		parts = append(parts, "already off "+strings.Join(already, " "))
	}
	if len(refused) > 0 {
		parts = append(parts, "still on "+strings.Join(refused, " "))
	}
	if len(unknown) > 0 {
		parts = append(parts, "unknown "+strings.Join(unknown, " "))
	}
	st.Detail = strings.Join(parts, "; ")
	return st, nil
}

func stepPromisc(sys system, l linkInfo, _ Options, _ *Report) (Step, *Error) {
	if l.Promisc {
		return Step{Detail: "already on"}, nil
	}
	if err := sys.setPromisc(l); err != nil {
		return Step{}, &Error{Op: "set promiscuous", Err: err}
	}
	return Step{Changed: true, Detail: "set"}, nil
}

func stepUp(sys system, l linkInfo, _ Options, _ *Report) (Step, *Error) {
	if l.Up {
		return Step{Detail: "already up"}, nil
	}
	if err := sys.setUp(l); err != nil {
		return Step{}, &Error{Op: "set up", Err: err}
	}
	return Step{Changed: true, Detail: "set"}, nil
}
