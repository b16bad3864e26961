package netif

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var errPerm = errors.New("operation not permitted")

// fakeSystem is a simulated kernel for prepare: one link, its sysctls,
// addresses and features, with the kernel's side effects that matter
// (disable_ipv6 takes the IPv6 addresses away; only changeable features
// change; "sticky" features stay on). It logs every change it is asked for.
type fakeSystem struct {
	l       linkInfo
	sysctls map[string]string // absent key: fs.ErrNotExist
	ipAddrs []netip.Prefix
	feats   map[string]featureBits
	sticky  map[string]bool  // changeable, but the kernel keeps them on
	fail    map[string]error // by operation: "link", "setPromisc", …
	roKeys  map[string]bool  // sysctls that cannot be written
	log     []string
}

func newFakeSystem() *fakeSystem {
	return &fakeSystem{
		l: linkInfo{Index: 4, Name: "eth1"},
		sysctls: map[string]string{
			"net/ipv6/conf/all/disable_ipv6":   "0",
			"net/ipv6/conf/eth1/disable_ipv6":  "0",
			"net/ipv6/conf/eth1/addr_gen_mode": "0",
			"net/ipv4/conf/all/arp_ignore":     "0",
			"net/ipv4/conf/eth1/arp_ignore":    "0",
		},
		ipAddrs: []netip.Prefix{
			netip.MustParsePrefix("192.0.2.1/24"),
			netip.MustParsePrefix("2001:db8::1/64"),
			netip.MustParsePrefix("fe80::1/64"),
		},
		// Like a veth: GRO and the segmentation offloads changeable and
		// on, LRO and hardware GRO fixed off, VLAN parsing on.
		feats: map[string]featureBits{
			"rx-gro":                       {Available: true, Requested: true, Active: true},
			"rx-gro-hw":                    {},
			"rx-lro":                       {},
			"rx-gro-list":                  {Available: true},
			"rx-udp-gro-forwarding":        {Available: true},
			"tx-generic-segmentation":      {Available: true, Requested: true, Active: true},
			"tx-tcp-segmentation":          {Available: true, Requested: true, Active: true},
			"tx-tcp-ecn-segmentation":      {Available: true, Requested: true, Active: true},
			"tx-tcp-mangleid-segmentation": {Available: true, Requested: true, Active: true},
			"tx-tcp6-segmentation":         {Available: true, Requested: true, Active: true},
			"tx-udp-segmentation":          {Available: true, Requested: true, Active: true},
			"rx-vlan-hw-parse":             {Available: true, Requested: true, Active: true},
		},
		sticky: map[string]bool{},
		fail:   map[string]error{},
		roKeys: map[string]bool{},
	}
}

func (s *fakeSystem) link(name string) (linkInfo, error) {
	if err := s.fail["link"]; err != nil {
		return linkInfo{}, err
	}
	if name != s.l.Name {
		return linkInfo{}, ErrNoInterface
	}
	return s.l, nil
}

func (s *fakeSystem) sysctl(key string) (string, error) {
	v, ok := s.sysctls[key]
	if !ok {
		return "", &fs.PathError{Op: "open", Path: "/proc/sys/" + key, Err: fs.ErrNotExist}
	}
	return v, nil
}

func (s *fakeSystem) setSysctl(key, value string) error {
	if s.roKeys[key] {
		return &fs.PathError{Op: "open", Path: "/proc/sys/" + key, Err: errors.New("read-only file system")}
	}
	if _, ok := s.sysctls[key]; !ok {
		return fs.ErrNotExist
	}
	s.log = append(s.log, "sysctl "+key+"="+value)
	s.sysctls[key] = value
	if strings.HasSuffix(key, "/disable_ipv6") && value == "1" {
		s.ipAddrs = slices.DeleteFunc(s.ipAddrs, func(p netip.Prefix) bool { return p.Addr().Is6() })
	}
	return nil
}

func (s *fakeSystem) setAddrGenModeNone(l linkInfo) error {
	if err := s.fail["setAddrGenModeNone"]; err != nil {
		return err
	}
	s.log = append(s.log, "addr_gen_mode none")
	s.sysctls["net/ipv6/conf/eth1/addr_gen_mode"] = "1"
	return nil
}

func (s *fakeSystem) addrs(l linkInfo) ([]address, error) {
	var out []address
	for _, p := range s.ipAddrs {
		out = append(out, address{Prefix: p})
	}
	return out, nil
}

func (s *fakeSystem) delAddr(l linkInfo, a address) error {
	if err := s.fail["delAddr"]; err != nil {
		return err
	}
	s.log = append(s.log, "del "+a.Prefix.String())
	s.ipAddrs = slices.DeleteFunc(s.ipAddrs, func(p netip.Prefix) bool { return p == a.Prefix })
	return nil
}

func (s *fakeSystem) features(name string) (map[string]featureBits, error) {
	if err := s.fail["features"]; err != nil {
		return nil, err
	}
	return maps(s.feats), nil
}

func maps(m map[string]featureBits) map[string]featureBits {
	out := make(map[string]featureBits, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *fakeSystem) setFeatures(name string, off []string) error {
	if err := s.fail["setFeatures"]; err != nil {
		return err
	}
	s.log = append(s.log, "features off "+strings.Join(off, " "))
	for _, n := range off {
		f := s.feats[n]
		if f.fixed() {
			continue
		}
		f.Requested = false
		if !s.sticky[n] {
			f.Active = false
		}
		s.feats[n] = f
	}
	return nil
}

func (s *fakeSystem) setPromisc(l linkInfo) error {
	if err := s.fail["setPromisc"]; err != nil {
		return err
	}
	s.log = append(s.log, "promisc")
	s.l.Promisc = true
	return nil
}

func (s *fakeSystem) setUp(l linkInfo) error {
	if err := s.fail["setUp"]; err != nil {
		return err
	}
	s.log = append(s.log, "up")
	s.l.Up = true
	return nil
}

func TestPrepareFreshInterface(t *testing.T) {
	sys := newFakeSystem()
	r, err := prepare(sys, "eth1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// IPv6 is silenced before anything else and the link comes up last, so
	// that the kernel never gives it a link-local address.
	wantLog := []string{
		"addr_gen_mode none",
		"sysctl net/ipv6/conf/eth1/disable_ipv6=1",
		"sysctl net/ipv4/conf/eth1/arp_ignore=8",
		"del 192.0.2.1/24",
		"features off rx-gro tx-generic-segmentation tx-tcp-segmentation tx-tcp-ecn-segmentation tx-tcp-mangleid-segmentation tx-tcp6-segmentation tx-udp-segmentation",
		"promisc",
		"up",
	}
	if !slices.Equal(sys.log, wantLog) {
		t.Errorf("kernel calls:\n%s\nwant\n%s", strings.Join(sys.log, "\n"), strings.Join(wantLog, "\n"))
	}
	if len(sys.ipAddrs) != 0 || !sys.l.Up || !sys.l.Promisc {
		t.Errorf("after Prepare: addrs %v, up %v, promisc %v", sys.ipAddrs, sys.l.Up, sys.l.Promisc)
	}
	if !sys.feats["rx-vlan-hw-parse"].Active {
		t.Error("rx-vlan-hw-parse was switched off; it must be kept")
	}

	wantSteps := []Step{
		{Name: StepIPv6, Changed: true, Detail: "addr_gen_mode none (was eui64), disable_ipv6 1 (was 0)"},
		{Name: StepARP, Changed: true, Detail: "arp_ignore 8 (was 0)"},
		{Name: StepAddresses, Changed: true, Detail: "removed 192.0.2.1/24"},
		{Name: StepOffloads, Changed: true, Detail: "switched off rx-gro tx-generic-segmentation tx-tcp-segmentation tx-tcp-ecn-segmentation tx-tcp-mangleid-segmentation tx-tcp6-segmentation tx-udp-segmentation; already off rx-gro-hw rx-lro rx-gro-list rx-udp-gro-forwarding"},
		{Name: StepPromisc, Changed: true, Detail: "set"},
		{Name: StepUp, Changed: true, Detail: "set"},
	}
	if !reflect.DeepEqual(r.Steps, wantSteps) {
		t.Errorf("steps:\n%+v\nwant\n%+v", r.Steps, wantSteps)
	}
	if r.Iface != "eth1" || r.Index != 4 || !r.Changed() {
		t.Errorf("report %+v: want eth1, index 4, changed", r)
	}
	if len(r.Features) != len(DefaultOffloads) {
		t.Fatalf("%d features reported, want %d", len(r.Features), len(DefaultOffloads))
	}
	for _, f := range r.Features {
		wantBefore := sys.feats[f.Name].Available && f.Name != "rx-gro-list" && f.Name != "rx-udp-gro-forwarding"
		if f.Before != wantBefore || f.After || f.Err != nil {
			t.Errorf("feature %+v: want before %v, after false, no error", f, wantBefore)
		}
	}
	if ref := r.Refused(); len(ref) != 0 {
		t.Errorf("refused %+v, want none", ref)
	}

	// Idempotent: a second Prepare changes nothing and says so.
	sys.log = nil
	r2, err := prepare(sys, "eth1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sys.log) != 0 || r2.Changed() {
		t.Errorf("second Prepare changed %v; report %v", sys.log, r2)
	}
	for _, f := range r2.Features {
		if f.Before || f.After {
			t.Errorf("second Prepare: feature %+v not off", f)
		}
	}
	wantString := "eth1: ipv6: addr_gen_mode none, disable_ipv6 1; arp: arp_ignore 8; addresses: none; " +
		"offloads: already off rx-gro rx-gro-hw rx-lro rx-gro-list rx-udp-gro-forwarding tx-generic-segmentation tx-tcp-segmentation tx-tcp-ecn-segmentation tx-tcp-mangleid-segmentation tx-tcp6-segmentation tx-udp-segmentation; " +
		"promisc: already on; up: already up"
	if got := r2.String(); got != wantString {
		t.Errorf("String() =\n%s\nwant\n%s", got, wantString)
	}
}

func TestPrepareOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantLog []string
		skipped []string
	}{
		{
			name:    "skip all",
			opts:    Options{KeepAddresses: true, SkipOffloads: true, SkipPromisc: true, SkipUp: true},
			skipped: []string{StepIPv6, StepARP, StepAddresses, StepOffloads, StepPromisc, StepUp},
		},
		{
			name:    "keep addresses keeps IPv6 and ARP too",
			opts:    Options{KeepAddresses: true},
			wantLog: []string{"features off rx-gro tx-generic-segmentation tx-tcp-segmentation tx-tcp-ecn-segmentation tx-tcp-mangleid-segmentation tx-tcp6-segmentation tx-udp-segmentation", "promisc", "up"},
			skipped: []string{StepIPv6, StepARP, StepAddresses},
		},
		{
			name: "skip IPv6 only: the addresses go, IPv6 stays on",
			opts: Options{SkipIPv6: true, SkipOffloads: true, SkipPromisc: true, SkipUp: true},
			wantLog: []string{
				"sysctl net/ipv4/conf/eth1/arp_ignore=8",
				"del 192.0.2.1/24", "del 2001:db8::1/64", "del fe80::1/64",
			},
			skipped: []string{StepIPv6, StepOffloads, StepPromisc, StepUp},
		},
		{
			name:    "own offload list",
			opts:    Options{KeepAddresses: true, SkipPromisc: true, SkipUp: true, Offloads: []string{"rx-gro", "rx-vlan-hw-parse"}},
			wantLog: []string{"features off rx-gro rx-vlan-hw-parse"},
			skipped: []string{StepIPv6, StepARP, StepAddresses, StepPromisc, StepUp},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := newFakeSystem()
			r, err := prepare(sys, "eth1", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sys.log, tt.wantLog) {
				t.Errorf("kernel calls %q, want %q", sys.log, tt.wantLog)
			}
			var skipped []string
			for _, s := range r.Steps {
				if s.Skipped {
					skipped = append(skipped, s.Name)
				}
			}
			if !slices.Equal(skipped, tt.skipped) {
				t.Errorf("skipped %v, want %v", skipped, tt.skipped)
			}
			if len(r.Steps) != 6 {
				t.Errorf("%d steps reported, want all 6", len(r.Steps))
			}
		})
	}
}

func TestPrepareErrors(t *testing.T) {
	tests := []struct {
		name      string
		iface     string
		setup     func(s *fakeSystem)
		wantErr   string
		wantIs    error
		wantSteps int // steps in the partial report
	}{
		{
			name:    "no such interface",
			iface:   "eth7",
			wantErr: "netif: eth7: look up link: no such interface",
			wantIs:  ErrNoInterface,
		},
		{
			name:    "invalid name",
			iface:   "../eth1",
			wantErr: `netif: ../eth1: look up link: invalid interface name "../eth1"`,
		},
		{
			name:      "promiscuous not permitted",
			iface:     "eth1",
			setup:     func(s *fakeSystem) { s.fail["setPromisc"] = errPerm },
			wantErr:   "netif: eth1: set promiscuous: operation not permitted",
			wantIs:    errPerm,
			wantSteps: 5,
		},
		{
			name:      "up not permitted",
			iface:     "eth1",
			setup:     func(s *fakeSystem) { s.fail["setUp"] = errPerm },
			wantErr:   "netif: eth1: set up: operation not permitted",
			wantIs:    errPerm,
			wantSteps: 6,
		},
		{
			name:      "address removal fails",
			iface:     "eth1",
			setup:     func(s *fakeSystem) { s.fail["delAddr"] = errPerm },
			wantErr:   "netif: eth1: remove address 192.0.2.1/24: operation not permitted",
			wantIs:    errPerm,
			wantSteps: 3,
		},
		{
			name:      "features cannot be set",
			iface:     "eth1",
			setup:     func(s *fakeSystem) { s.fail["setFeatures"] = errPerm },
			wantErr:   "netif: eth1: set offloads: operation not permitted",
			wantIs:    errPerm,
			wantSteps: 4,
		},
		{
			name:  "arp_ignore read-only",
			iface: "eth1",
			setup: func(s *fakeSystem) { s.roKeys["net/ipv4/conf/eth1/arp_ignore"] = true },
			wantErr: "netif: eth1: set arp_ignore: open /proc/sys/net/ipv4/conf/eth1/arp_ignore: " +
				"read-only file system",
			wantSteps: 2,
		},
		{
			name:  "IPv6 cannot be silenced at all",
			iface: "eth1",
			setup: func(s *fakeSystem) {
				s.fail["setAddrGenModeNone"] = errPerm
				s.roKeys["net/ipv6/conf/eth1/disable_ipv6"] = true
			},
			wantErr: "netif: eth1: disable IPv6: operation not permitted\n" +
				"set disable_ipv6: open /proc/sys/net/ipv6/conf/eth1/disable_ipv6: read-only file system",
			wantIs:    errPerm,
			wantSteps: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := newFakeSystem()
			if tt.setup != nil {
				tt.setup(sys)
			}
			r, err := prepare(sys, tt.iface, Options{})
			if err == nil {
				t.Fatalf("no error; report %v", r)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error\n%s\nwant\n%s", err, tt.wantErr)
			}
			var e *Error
			if !errors.As(err, &e) || e.Iface != tt.iface {
				t.Errorf("error %#v is not an *Error for %s", err, tt.iface)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) is false", err, tt.wantIs)
			}
			if len(r.Steps) != tt.wantSteps {
				t.Errorf("%d steps in the partial report, want %d: %v", len(r.Steps), tt.wantSteps, r)
			}
			if n := len(r.Steps); n > 0 && r.Steps[n-1].Err == nil {
				t.Errorf("the failed step %+v has no Err", r.Steps[n-1])
			}
		})
	}
}

func TestPrepareIPv6(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(s *fakeSystem)
		wantDetail string
		wantErr    string // the step's non-fatal Err
	}{
		{
			name: "IPv6 not in the kernel",
			setup: func(s *fakeSystem) {
				for k := range s.sysctls {
					if strings.HasPrefix(k, "net/ipv6/") {
						delete(s.sysctls, k)
					}
				}
			},
			wantDetail: "IPv6 not in this kernel",
		},
		{
			name:       "disable_ipv6 read-only (container): addr_gen_mode none holds",
			setup:      func(s *fakeSystem) { s.roKeys["net/ipv6/conf/eth1/disable_ipv6"] = true },
			wantDetail: "addr_gen_mode none (was eui64)",
			wantErr:    "set disable_ipv6: open /proc/sys/net/ipv6/conf/eth1/disable_ipv6: read-only file system",
		},
		{
			name:       "addr_gen_mode refused: disable_ipv6 covers it",
			setup:      func(s *fakeSystem) { s.fail["setAddrGenModeNone"] = errPerm },
			wantDetail: "disable_ipv6 1 (was 0)",
			wantErr:    "set addr_gen_mode: operation not permitted",
		},
		{
			name: "already silent",
			setup: func(s *fakeSystem) {
				s.sysctls["net/ipv6/conf/eth1/disable_ipv6"] = "1"
				s.sysctls["net/ipv6/conf/eth1/addr_gen_mode"] = "1"
			},
			wantDetail: "addr_gen_mode none, disable_ipv6 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := newFakeSystem()
			tt.setup(sys)
			r, err := prepare(sys, "eth1", Options{SkipARP: true, SkipOffloads: true, SkipPromisc: true, SkipUp: true})
			if err != nil {
				t.Fatal(err)
			}
			st, _ := r.Step(StepIPv6)
			if st.Detail != tt.wantDetail || errString(st.Err) != tt.wantErr {
				t.Errorf("ipv6 step %+v\nwant detail %q, error %q", st, tt.wantDetail, tt.wantErr)
			}
		})
	}
}

func TestPrepareRefusedFeatures(t *testing.T) {
	sys := newFakeSystem()
	sys.feats["rx-lro"] = featureBits{Active: true} // fixed on
	sys.feats["tx-tcp-segmentation"] = featureBits{Available: true, Requested: true, Active: true}
	sys.sticky["tx-tcp-segmentation"] = true                                 // the driver keeps it
	sys.feats["rx-gro-list"] = featureBits{Available: true, Requested: true} // wanted, held off
	delete(sys.feats, "rx-udp-gro-forwarding")                               // an older kernel
	r, err := prepare(sys, "eth1", Options{KeepAddresses: true, SkipPromisc: true, SkipUp: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Feature{
		"rx-lro":                {Name: "rx-lro", Before: true, After: true, Fixed: true, Err: ErrFixed},
		"tx-tcp-segmentation":   {Name: "tx-tcp-segmentation", Before: true, After: true, Err: ErrRefused},
		"rx-gro-list":           {Name: "rx-gro-list"},
		"rx-udp-gro-forwarding": {Name: "rx-udp-gro-forwarding", Err: ErrUnknownFeature},
		"rx-gro":                {Name: "rx-gro", Before: true},
	}
	for _, f := range r.Features {
		if w, ok := want[f.Name]; ok && f != w {
			t.Errorf("feature %+v, want %+v", f, w)
		}
	}
	if sys.feats["rx-gro-list"].Requested {
		t.Error("rx-gro-list is still wanted on; Prepare must clear it")
	}
	var refused []string
	for _, f := range r.Refused() {
		refused = append(refused, f.Name)
	}
	if !slices.Equal(refused, []string{"rx-lro", "tx-tcp-segmentation"}) {
		t.Errorf("Refused() = %v", refused)
	}
	st, _ := r.Step(StepOffloads)
	if !strings.Contains(st.Detail, "still on tx-tcp-segmentation rx-lro") && !strings.Contains(st.Detail, "still on rx-lro tx-tcp-segmentation") {
		t.Errorf("offloads detail %q does not name the refused features", st.Detail)
	}
	if s := r.String(); !strings.HasSuffix(s, "; refused: rx-lro (fixed on by the driver) tx-tcp-segmentation (kept on by the kernel)") {
		t.Errorf("String() = %q", s)
	}
}

func TestReportJSON(t *testing.T) {
	r := Report{
		Iface: "eth1", Index: 2,
		Steps: []Step{
			{Name: StepIPv6, Changed: true, Detail: "disable_ipv6 1 (was 0)", Err: errors.New("set addr_gen_mode: x")},
			{Name: StepARP, Skipped: true},
		},
		Features: []Feature{
			{Name: "rx-gro", Before: true},
			{Name: "rx-lro", Before: true, After: true, Fixed: true, Err: ErrFixed},
		},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"iface":"eth1","index":2,"steps":[` +
		`{"name":"ipv6","changed":true,"detail":"disable_ipv6 1 (was 0)","error":"set addr_gen_mode: x"},` +
		`{"name":"arp","skipped":true}],"features":[` +
		`{"name":"rx-gro","before":true,"after":false},` +
		`{"name":"rx-lro","before":true,"after":true,"fixed":true,"error":"fixed on by the driver"}]}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
}

func TestSysctlKey(t *testing.T) {
	tests := []struct{ name, iface, want string }{
		{"plain", "eth1", "net/ipv6/conf/eth1/disable_ipv6"},
		{"vlan device", "eth1.100", "net/ipv6/conf/eth1/100/disable_ipv6"},
	}
	for _, tt := range tests {
		if got := sysctlKey("ipv6", tt.iface, "disable_ipv6"); got != tt.want {
			t.Errorf("%s: sysctlKey = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"plain", "eth1", true},
		{"vlan", "eth1.100", true},
		{"longest", "abcdefghijklmno", true},
		{"too long", "abcdefghijklmnop", false},
		{"empty", "", false},
		{"dot", ".", false},
		{"dotdot", "..", false},
		{"slash", "a/b", false},
		{"colon", "eth0:1", false},
		{"space", "eth 1", false},
	}
	for _, tt := range tests {
		if got := validName(tt.in); got != tt.want {
			t.Errorf("%s: validName(%q) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
}
