package netif

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"time"
)

// Controller prepares, watches and counts capture interfaces. New returns
// the kernel's; netiftest.Fake records calls for unit tests. Methods are safe
// for concurrent use.
type Controller interface {
	// Prepare makes the named interface a silent capture port: IPv6 off,
	// ARP replies off, no addresses, distorting offloads off, promiscuous,
	// up (see the package doc). It returns what it found and changed; on
	// error, the Report so far and an *Error naming the step.
	Prepare(name string, opts Options) (Report, error)

	// Watch reports the link state of the named interfaces until ctx ends,
	// then closes the channel. The first event of each name is its state
	// when Watch starts (LinkAbsent if it does not exist); later events
	// come when the state changes. An interface that disappears is
	// reported LinkAbsent, and when it comes back with Appeared set.
	Watch(ctx context.Context, names []string) (<-chan LinkEvent, error)

	// Counters returns the interface's kernel statistics.
	Counters(name string) (Counters, error)
}

// Options lets the caller skip steps of Prepare. The zero value does all.
type Options struct {
	// SkipIPv6 leaves IPv6 on the interface as it is.
	SkipIPv6 bool
	// SkipARP leaves arp_ignore as it is.
	SkipARP bool
	// KeepAddresses keeps the interface's addresses, and so its IPv6 and
	// ARP settings (it implies SkipIPv6 and SkipARP): for a lab, where the
	// sensor stays reachable on its capture port. Never on a real port.
	KeepAddresses bool
	// SkipOffloads leaves the interface's features as they are.
	SkipOffloads bool
	// Offloads are the features to switch off, by their kernel names as
	// `ethtool -k` prints them; nil means DefaultOffloads.
	Offloads []string
	// SkipPromisc leaves the promiscuous flag as it is.
	SkipPromisc bool
	// SkipUp leaves the interface down if it is down.
	SkipUp bool
}

// DefaultOffloads are the features Prepare switches off: those that merge
// or split segments so that the capture would see frames that were never on
// the wire. The package doc says why each, and which are kept and why
// (rx-vlan-hw-parse above all).
var DefaultOffloads = []string{
	"rx-gro",                       // generic receive offload (GRO)
	"rx-gro-hw",                    // GRO in the NIC
	"rx-lro",                       // large receive offload (LRO)
	"rx-gro-list",                  // GRO keeping a fragment list
	"rx-udp-gro-forwarding",        // UDP GRO for forwarded traffic
	"tx-generic-segmentation",      // GSO
	"tx-tcp-segmentation",          // TSO (IPv4)
	"tx-tcp-ecn-segmentation",      // TSO with ECN
	"tx-tcp-mangleid-segmentation", // TSO that may rewrite IPv4 ids
	"tx-tcp6-segmentation",         // TSO (IPv6)
	"tx-udp-segmentation",          // UDP segmentation offload (USO)
}

// Step names, in the order Prepare runs them.
const (
	StepIPv6      = "ipv6"
	StepARP       = "arp"
	StepAddresses = "addresses"
	StepOffloads  = "offloads"
	StepPromisc   = "promisc"
	StepUp        = "up"
)

// Report says what Prepare found and did. The daemon logs it and shows the
// refused features in its stats; it marshals to JSON with the keys that have
// no value omitted.
type Report struct {
	Iface    string    `json:"iface"`
	Index    int       `json:"index,omitempty"`
	Steps    []Step    `json:"steps,omitempty"`
	Features []Feature `json:"features,omitempty"`
}

// Step is one step of Prepare.
type Step struct {
	Name    string // StepIPv6 … StepUp
	Skipped bool   // Options said to skip it
	Changed bool   // the step changed the interface
	Detail  string // what it found or did, for people
	// Err is the step's problem: the error Prepare returned for it, or a
	// problem it could work around (a read-only disable_ipv6 where
	// addr_gen_mode none worked).
	Err error
}

// Feature is one offload feature Prepare was asked to switch off.
type Feature struct {
	Name   string // kernel name, e.g. "rx-gro"
	Before bool   // active before Prepare
	After  bool   // active after Prepare
	// Fixed is ethtool's "[fixed]": the driver does not let it change.
	Fixed bool
	// Err says why the feature is still on (ErrFixed, ErrRefused), or
	// ErrUnknownFeature when this kernel has no feature of that name.
	Err error
}

// Errors in Reports and returned errors; test with errors.Is.
var (
	// ErrNotSupported is returned on systems other than Linux.
	ErrNotSupported = errors.New("netif: not supported on " + runtime.GOOS)
	// ErrNoInterface: no interface has that name.
	ErrNoInterface = errors.New("no such interface")
	// ErrFixed: the driver reports the feature as fixed (ethtool's
	// "[fixed]"), and it is on.
	ErrFixed = errors.New("fixed on by the driver")
	// ErrRefused: the feature could be changed but the kernel kept it on
	// (the driver refused, or another active feature needs it).
	ErrRefused = errors.New("kept on by the kernel")
	// ErrUnknownFeature: the kernel has no feature of that name.
	ErrUnknownFeature = errors.New("no such feature in this kernel")
)

// Error is the error of a Controller method: which interface, which step.
type Error struct {
	Iface string // "eth1"; several names joined by "," for Watch
	Op    string // "set promiscuous", "remove address 192.0.2.1/24", …
	Err   error
}

func (e *Error) Error() string {
	return "netif: " + e.Iface + ": " + e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Changed reports whether Prepare changed anything.
func (r Report) Changed() bool {
	for _, s := range r.Steps {
		if s.Changed {
			return true
		}
	}
	return false
}

// Step returns the named step, if Prepare ran or skipped it.
func (r Report) Step(name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

// Refused returns the features that are still on after Prepare.
func (r Report) Refused() []Feature {
	var out []Feature
	for _, f := range r.Features {
		if f.After {
			out = append(out, f)
		}
	}
	return out
}

// String is the report on one line, for logs, e.g. "eth1: ipv6:
// addr_gen_mode none (was eui64), disable_ipv6 1 (was 0); arp: arp_ignore 8
// (was 0); addresses: removed 192.0.2.1/24; offloads: switched off rx-gro;
// promisc: set; up: already up; refused: rx-lro (fixed on by the driver)".
func (r Report) String() string {
	var b strings.Builder
	b.WriteString(r.Iface)
	b.WriteString(": ")
	for i, s := range r.Steps {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s.Name)
		b.WriteString(": ")
		switch {
		case s.Skipped:
			b.WriteString("skipped")
		case s.Detail != "":
			b.WriteString(s.Detail)
		default:
			b.WriteString("-")
		}
		if s.Err != nil {
			b.WriteString(" (")
			b.WriteString(s.Err.Error())
			b.WriteString(")")
		}
	}
	if ref := r.Refused(); len(ref) > 0 {
		b.WriteString("; refused:")
		for _, f := range ref {
			b.WriteString(" ")
			b.WriteString(f.Name)
			if f.Err != nil {
				b.WriteString(" (")
				b.WriteString(f.Err.Error())
				b.WriteString(")")
			}
		}
	}
	return b.String()
}

// MarshalJSON writes the step with its error as a string.
func (s Step) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name    string `json:"name"`
		Skipped bool   `json:"skipped,omitempty"`
		Changed bool   `json:"changed,omitempty"`
		Detail  string `json:"detail,omitempty"`
		Err     string `json:"error,omitempty"`
	}{s.Name, s.Skipped, s.Changed, s.Detail, errString(s.Err)})
}

// MarshalJSON writes the feature with its error as a string; before and
// after are always written.
func (f Feature) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name   string `json:"name"`
		Before bool   `json:"before"`
		After  bool   `json:"after"`
		Fixed  bool   `json:"fixed,omitempty"`
		Err    string `json:"error,omitempty"`
	}{f.Name, f.Before, f.After, f.Fixed, errString(f.Err)})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// LinkState is the state of a watched interface.
type LinkState uint8

const (
	// LinkAbsent: no interface has the name (never had, or it went away).
	LinkAbsent LinkState = iota + 1
	// LinkDown: the interface is administratively down or has no carrier.
	LinkDown
	// LinkUp: the interface is up and has carrier.
	LinkUp
)

func (s LinkState) String() string {
	switch s {
	case LinkAbsent:
		return "absent"
	case LinkDown:
		return "down"
	case LinkUp:
		return "up"
	}
	return "unknown"
}

// MarshalText writes the state's name.
func (s LinkState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LinkEvent is a change of a watched interface's link state. Time is the
// wall clock (UTC) when the sensor saw it: this is hardware state, not
// packet time.
type LinkEvent struct {
	Name    string    `json:"iface"`
	Index   int       `json:"index,omitempty"` // 0 when absent
	State   LinkState `json:"state"`
	AdminUp bool      `json:"admin_up,omitempty"` // IFF_UP
	Carrier bool      `json:"carrier,omitempty"`  // IFF_LOWER_UP
	// Appeared is set on the first event of an interface that is new since
	// the last event under its name: it came back after LinkAbsent, or was
	// replaced. Its settings are the kernel's defaults: Prepare it again.
	Appeared bool      `json:"appeared,omitempty"`
	Time     time.Time `json:"ts"`
}

// Counters are an interface's kernel statistics (rtnetlink
// IFLA_STATS64), cumulative since the device was created.
type Counters struct {
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	RxErrors  uint64 `json:"rx_errors"`
	// RxDropped counts frames the kernel dropped after the NIC, among them
	// frames no protocol and no capture socket took (so on a capture port
	// it grows while no capture is open).
	RxDropped uint64 `json:"rx_dropped"`
	// RxMissed counts frames the NIC dropped for lack of room in its
	// receive ring, before the kernel saw them.
	RxMissed  uint64 `json:"rx_missed"`
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
	TxErrors  uint64 `json:"tx_errors"`
	TxDropped uint64 `json:"tx_dropped"`
}

// validName reports whether name can be an interface name (as the kernel's
// dev_valid_name decides); Prepare checks it before building /proc/sys paths
// from it.
func validName(name string) bool {
	if name == "" || len(name) >= 16 /* IFNAMSIZ */ || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '/', c == ':', c <= ' ', c == 0x7f:
			return false
		}
	}
	return true
}
