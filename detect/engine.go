package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"

	"github.com/tapwire/tapwire/detect/alert"
	"github.com/tapwire/tapwire/detect/inventory"
	"github.com/tapwire/tapwire/detect/output"
	"github.com/tapwire/tapwire/detect/store"
	"github.com/tapwire/tapwire/dissect"
)

// Mode is the detection mode.
type Mode uint8

// Modes.
const (
	ModeAuto Mode = iota
	ModeLearn
	ModeDetect
)

func (m Mode) String() string {
	switch m {
	case ModeLearn:
		return "learn"
	case ModeDetect:
		return "detect"
	}
	return "auto"
}

// ParseMode parses learn, detect or auto.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "auto":
		return ModeAuto, nil
	case "learn":
		return ModeLearn, nil
	case "detect":
		return ModeDetect, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want learn, detect or auto)", s)
}

// withDefaults fills the zero fields of c from DefaultConfig (Mode's zero
// value is auto, the default).
func (c Config) withDefaults() Config {
	d := DefaultConfig
	if c.LearnFor <= 0 {
		c.LearnFor = d.LearnFor
	}
	if c.ExceptionWindow <= 0 {
		c.ExceptionWindow = d.ExceptionWindow
	}
	if c.ExceptionThreshold <= 0 {
		c.ExceptionThreshold = d.ExceptionThreshold
	}
	if c.AlertInterval <= 0 {
		c.AlertInterval = d.AlertInterval
	}
	return c
}

// Config configures detection. Durations are nanoseconds of packet time.
type Config struct {
	Mode     Mode
	LearnFor int64 // auto mode's learning window; default 1 h

	ExceptionWindow    int64 // default 10 s
	ExceptionThreshold int   // default 20
	// AlertInterval is how often a grouped alert whose count grows is
	// written again; default 10 s.
	AlertInterval int64
}

// DefaultConfig is detection's default configuration.
var DefaultConfig = Config{
	Mode:               ModeAuto,
	LearnFor:           3600e9,
	ExceptionWindow:    10e9,
	ExceptionThreshold: 20,
	AlertInterval:      10e9,
}

// Stats are detection's counters.
type Stats struct {
	Events        [dissect.NumProtos]uint64
	Malformed     [dissect.NumProtos]uint64 // events with error malformed or truncated
	Assets        int
	Alerts        int
	Mode          Mode
	LearningUntil int64 // auto mode: end of the learning window (0 if not started)
}

// Engine is the detection stage. Process and Close run on one goroutine.
type Engine struct {
	cfg    Config
	st     *store.Store
	out    *output.Writer
	log    *slog.Logger
	inv    *inventory.Inventory
	alerts *alert.Table

	learnStart int64 // packet time of the first PDU the state saw
	written    map[*inventory.Asset]int64
	lastTS     int64
	stats      Stats

	modbus modbusRules
}

// New returns an engine with the state kept in st (loaded now) writing
// records to out.
func New(cfg Config, st *store.Store, out *output.Writer, log *slog.Logger) (*Engine, error) {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	e := &Engine{
		cfg: cfg, st: st, out: out, log: log,
		inv:     inventory.New(),
		alerts:  alert.NewTable(cfg.AlertInterval),
		written: make(map[*inventory.Asset]int64),
	}
	e.modbus.init()
	if err := e.load(); err != nil {
		return nil, err
	}
	return e, nil
}

// SetInputs names the inputs (files, interfaces) for evidence references.
func (e *Engine) SetInputs(names []string) { e.alerts.SetInputs(names) }

// Inventory is the asset inventory.
func (e *Engine) Inventory() *inventory.Inventory { return e.inv }

// Alerts is the alert table.
func (e *Engine) Alerts() *alert.Table { return e.alerts }

// Stats returns detection's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Assets, s.Alerts, s.Mode = e.inv.Len(), e.alerts.Len(), e.cfg.Mode
	if e.cfg.Mode == ModeAuto && e.learnStart != 0 {
		s.LearningUntil = e.learnStart + e.cfg.LearnFor
	}
	return s
}

// LastTS is the packet time of the last event processed.
func (e *Engine) LastTS() int64 { return e.lastTS }

// learning reports whether an event at ts only feeds the baseline.
func (e *Engine) learning(ts int64) bool {
	switch e.cfg.Mode {
	case ModeLearn:
		return true
	case ModeDetect:
		return false
	}
	return ts < e.learnStart+e.cfg.LearnFor
}

// Process consumes a batch of events in order (dissect.Sink).
func (e *Engine) Process(b *dissect.Batch) {
	for i := range b.Events {
		e.event(&b.Events[i])
	}
}

func (e *Engine) event(ev *dissect.Event) {
	if e.learnStart == 0 && e.cfg.Mode != ModeDetect {
		e.learnStart = ev.TS
	}
	if ev.TS > e.lastTS {
		e.lastTS = ev.TS
	}
	e.stats.Events[ev.Proto]++
	if !ev.OK && (ev.Error == "malformed" || ev.Error == "truncated") {
		e.stats.Malformed[ev.Proto]++
	}
	e.out.Event(ev)

	// Inventory: the request's sender is the client, its receiver the server.
	srcSide, dstSide := inventory.SidePeer, inventory.SidePeer
	switch ev.Dir {
	case dissect.DirRequest:
		srcSide, dstSide = inventory.SideClient, inventory.SideServer
	case dissect.DirResponse:
		srcSide, dstSide = inventory.SideServer, inventory.SideClient
	}
	use := clientUse(ev)
	src, srcChanged := e.inv.Observe(ev.Src, ev.TS, ev.Proto, srcSide, use)
	var dst *inventory.Asset
	var dstChanged bool
	// A serial unit becomes an asset when it answers: a master polling an
	// address where nothing answers proves no device.
	if ev.Dst.Kind != dissect.EndpointSerial || ev.Dir != dissect.DirRequest || e.inv.Lookup(ev.Dst) != nil {
		dst, dstChanged = e.inv.Observe(ev.Dst, ev.TS, ev.Proto, dstSide, use)
	}

	if ev.Proto == dissect.ProtoModbus && e.modbus.identify(e, ev, src) {
		srcChanged = true
	}
	// Assets first: the alerts that follow refer to them.
	if srcChanged {
		e.writeAsset(src, ev.TS)
	}
	if dstChanged {
		e.writeAsset(dst, ev.TS)
	}
	learning := e.learning(ev.TS)
	switch ev.Proto {
	case dissect.ProtoModbus:
		e.modbus.observe(e, ev, dst, learning)
	}
}

// clientUse classifies what the client of ev's conversation did, for the
// role guess.
func clientUse(ev *dissect.Event) inventory.Use {
	switch ev.Op {
	case dissect.OpProgram, dissect.OpDiagnostic, dissect.OpControl:
		return inventory.UseEngineering
	case dissect.OpDiscovery:
		return inventory.UseDiscovery
	}
	if ev.Name == "user_defined" {
		return inventory.UseEngineering
	}
	return inventory.UsePoll
}

func (e *Engine) writeAsset(a *inventory.Asset, ts int64) {
	e.written[a] = a.LastSeen
	e.out.Asset(a, ts)
}

// raise records an alert sighting and writes the alert when due.
func (e *Engine) raise(k alert.Key, ev *dissect.Event, n uint64, spec func() alert.Spec) {
	a, write := e.alerts.Raise(k, ev, n, spec)
	if write {
		e.out.Alert(a, ev.TS)
	}
}

// Close writes what the end of a run owes (grown alerts, the final state of
// assets seen since they were last written) and saves the state.
func (e *Engine) Close() error {
	for _, a := range e.alerts.Pending() {
		e.out.Alert(a, a.LastSeen)
	}
	for _, a := range e.inv.All() {
		if w, ok := e.written[a]; ok && a.LastSeen > w {
			e.writeAsset(a, a.LastSeen)
		}
	}
	return e.Save()
}

// State keys.
const (
	keyLearnStart = "meta/learn_start"
	keyVersion    = "meta/version"
	stateVersion  = "1"
)

func (e *Engine) load() error {
	v, err := e.st.Get(keyVersion)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// A new state.
	case err != nil:
		return err
	case string(v) != stateVersion:
		return fmt.Errorf("detect: state in %s has version %s; this sensor reads version %s", e.st.Dir(), v, stateVersion)
	}
	if v, err := e.st.Get(keyLearnStart); err == nil {
		if e.learnStart, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return fmt.Errorf("detect: state %s: %w", keyLearnStart, err)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := e.inv.Load(e.st); err != nil {
		return err
	}
	for _, a := range e.inv.All() {
		e.written[a] = a.LastSeen
	}
	return e.modbus.load(e.st)
}

// Save writes the inventory and what the rules learned to the store.
func (e *Engine) Save() error {
	var w store.Writer
	w.Put(keyVersion, []byte(stateVersion))
	if e.learnStart != 0 {
		w.Put(keyLearnStart, []byte(strconv.FormatInt(e.learnStart, 10)))
	}
	if err := e.inv.Save(&w); err != nil {
		return err
	}
	if err := e.modbus.save(&w); err != nil {
		return err
	}
	return e.st.Write(&w)
}

// identity reduces an endpoint to what identifies the party: the address
// (ports and MACs cleared), or the serial port and unit.
func identity(ep dissect.Endpoint) dissect.Endpoint {
	switch ep.Kind {
	case dissect.EndpointIP:
		return dissect.Endpoint{Kind: ep.Kind, Addr: ep.Addr}
	case dissect.EndpointMAC:
		return dissect.Endpoint{Kind: ep.Kind, MAC: ep.MAC}
	case dissect.EndpointSerial:
		return dissect.Endpoint{Kind: ep.Kind, Serial: ep.Serial, Unit: ep.Unit}
	}
	return dissect.Endpoint{}
}

// identityText is identity as stored: "10.0.0.1", "serial:ttyS1/master".
func identityText(ep dissect.Endpoint) string {
	ep = identity(ep)
	if ep.Kind == dissect.EndpointIP {
		return ep.Addr.String()
	}
	return ep.String()
}

func parseIdentity(s string) (dissect.Endpoint, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return dissect.Endpoint{Kind: dissect.EndpointIP, Addr: ip}, nil
	}
	var port, unit string
	if _, err := fmt.Sscanf(s, "serial:%s", &port); err == nil {
		for i := len(port) - 1; i >= 0; i-- {
			if port[i] == '/' {
				port, unit = port[:i], port[i+1:]
				break
			}
		}
		ep := dissect.Endpoint{Kind: dissect.EndpointSerial, Serial: port, Unit: dissect.UnitMaster}
		if unit != "master" {
			u, err := strconv.Atoi(unit)
			if err != nil {
				return ep, fmt.Errorf("detect: bad endpoint %q", s)
			}
			ep.Unit = int16(u)
		}
		return ep, nil
	}
	return dissect.Endpoint{}, fmt.Errorf("detect: bad endpoint %q", s)
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs are marshalled
	}
	return b
}

// Reconfigure applies a new configuration while running (SIGHUP): the
// mode, the learning window, the alert update interval and the rules'
// thresholds. Exception-burst windows restart with the new threshold.
func (e *Engine) Reconfigure(cfg Config) {
	cfg = cfg.withDefaults()
	if cfg.ExceptionThreshold != e.cfg.ExceptionThreshold {
		clear(e.modbus.bursts)
	}
	e.cfg = cfg
	e.alerts.SetInterval(cfg.AlertInterval)
}
