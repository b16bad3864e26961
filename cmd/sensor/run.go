package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/tapwire/tapwire/board/netif"
	"github.com/tapwire/tapwire/detect/output"
	"github.com/tapwire/tapwire/drivers/afpacket"
	"github.com/tapwire/tapwire/drivers/serial"
)

const runUsage = `Usage: sensor run [flags]

The sensor daemon: captures the named interfaces (a mirror/SPAN port or a tap)
and serial Modbus RTU lines, dissects, keeps the inventory, detects, and writes
JSON Lines records (and a stats record every stats interval) until stopped with
SIGINT or SIGTERM, flushing its output and saving its state. SIGHUP reloads
the config file: detection settings (mode, learning window, thresholds, alert
interval), the output (the file is reopened, for log rotation; --emit) and the
log level take effect at once; capture, serial, state and metrics settings
need a restart (the sensor says which changed).

Flags (they override the config file):
  --config FILE        configuration file (YAML, version 1)
  --iface NAME         capture this interface (repeat for several)
  --serial SPEC        tap this serial line, [NAME=]DEVICE[:BAUD[:8N1]] (repeat)
  --serial-capture FILE
                       also write the serial lines' frames to FILE (pcapng,
                       RTAC serial link type: tshark reads it)
  --workers N          capture workers per interface (PACKET_FANOUT; default 1)
  --state DIR          keep the inventory and what was learned in DIR
  --out FILE           write records to FILE (default standard output)
  --emit LIST          record types to write (default event,asset,alert,risk,stats)
  --metrics ADDR       serve Prometheus metrics on ADDR (host:port) at /metrics
  --sensor NAME        sensor name written into every record
  --site NAME          site name written into every record
  --mqtt URL           publish to a broker (not in this build)

Capturing needs CAP_NET_RAW and, to prepare the interfaces (up, promiscuous,
no addresses, offloads off), CAP_NET_ADMIN: run as root or grant them.

Exit codes: 0 stopped cleanly; 1 a capture failed while running; 64 usage
error; 73 the output file cannot be created; 74 writing the output failed;
78 a bad config: an interface or serial port that does not exist, a bad baud
rate or line format, a state directory that cannot be used.
`

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func cmdRun(args []string, stdout, stderr io.Writer) int {
	var f readFlags
	var ifaces, serials multiFlag
	var metrics, serialCapture, workers string
	fset := newFlagSet("run", &f)
	fset.Var(&ifaces, "iface", "")
	fset.Var(&serials, "serial", "")
	fset.StringVar(&serialCapture, "serial-capture", "", "")
	fset.StringVar(&workers, "workers", "", "")
	fset.StringVar(&metrics, "metrics", "", "")
	rest, err := parseInterspersed(fset, args)
	if err != nil {
		fmt.Fprintf(stderr, "sensor run: %v\n\n%s", err, runUsage)
		return exitUsage
	}
	if f.help {
		fmt.Fprint(stdout, runUsage)
		return exitOK
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "sensor run: unexpected argument %q (capture files are for 'sensor read')\n", rest[0])
		return exitUsage
	}
	f.parsed(fset)
	if f.set["mqtt"] {
		fmt.Fprintln(stderr, "sensor run: --mqtt: this build has no uplink yet; publishing to a broker is not available")
		return exitUsage
	}
	cfg := defaultConfig()
	if f.config != "" {
		if cfg, err = loadConfig(f.config); err != nil {
			fmt.Fprintf(stderr, "sensor run: config %v\n", err)
			return exitConfig
		}
	}
	if code := applyReadFlags(cfg, &f, stderr); code != exitOK {
		return code
	}
	if len(ifaces) > 0 {
		cfg.Capture.Interfaces = ifaces
	}
	if len(serials) > 0 {
		cfg.Serial.Ports = serials
	}
	if serialCapture != "" {
		cfg.Serial.Capture = serialCapture
	}
	if metrics != "" {
		cfg.Metrics = metrics
	}
	if workers != "" {
		n, err := parsePositive(workers)
		if err != nil || n > 64 {
			fmt.Fprintf(stderr, "sensor run: --workers: %q (want 1 to 64)\n", workers)
			return exitUsage
		}
		cfg.Capture.Workers = n
	}
	if len(cfg.Capture.Interfaces) == 0 && len(cfg.Serial.Ports) == 0 {
		fmt.Fprintf(stderr, "sensor run: nothing to capture: give --iface or --serial (or capture.interfaces, serial.ports in the config)\n\n%s", runUsage)
		return exitUsage
	}
	level := new(slog.LevelVar)
	log := newLeveledLogger(cfg, stderr, level)

	// Check what the config names before touching anything.
	for _, name := range cfg.Capture.Interfaces {
		if _, err := net.InterfaceByName(name); err != nil {
			fmt.Fprintf(stderr, "sensor run: interface %s: %v\n", name, err)
			return exitConfig
		}
	}
	var serialCfgs []serial.Config
	for _, p := range cfg.Serial.Ports {
		c, err := serial.Parse(p)
		if err != nil {
			fmt.Fprintf(stderr, "sensor run: %v\n", err)
			return exitConfig
		}
		serialCfgs = append(serialCfgs, c)
	}
	if err := serial.ValidateAll(serialCfgs); err != nil {
		fmt.Fprintf(stderr, "sensor run: %v\n", err)
		return exitConfig
	}

	emit, _ := output.ParseEmit(strings.Join(cfg.Output.Emit, ","))
	outFile, code := openOutput(cfg, stdout, stderr)
	if code != exitOK {
		return code
	}
	out := output.NewWriter(outFile, emit, cfg.Sensor, cfg.Site)
	p, err := newPipeline(cfg, out, log)
	if err != nil {
		fmt.Fprintf(stderr, "sensor run: %v\n", err)
		return exitConfig
	}
	l := newLive(cfg, p.det, out, log)
	l.outFile = outFile

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Interfaces: prepare (board), watch the links, open the rings.
	links := newLinkState()
	if len(cfg.Capture.Interfaces) > 0 {
		ctl := netif.New()
		links.ctl = ctl
		if cfg.Capture.Prepare {
			for _, name := range cfg.Capture.Interfaces {
				rep, err := ctl.Prepare(name, netif.Options{KeepAddresses: cfg.Capture.KeepAddresses})
				if err != nil {
					log.Warn("preparing capture interface", "iface", name, "err", err)
				}
				links.prepared(name, rep)
				log.Info("capture interface prepared", "iface", name, "report", rep.String())
			}
		}
		if ch, err := ctl.Watch(ctx, cfg.Capture.Interfaces); err != nil {
			log.Warn("watching links", "err", err)
		} else {
			go links.watch(ch, log)
		}
	}
	// abort undoes what was opened before a start-up error.
	abort := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "sensor run: "+format+"\n", args...)
		for _, w := range l.workers {
			w.src.Close()
		}
		p.st.Close()
		return code
	}
	inputs := slices.Clone(cfg.Capture.Interfaces)
	for i, name := range cfg.Capture.Interfaces {
		rings, err := openRings(cfg, name, i)
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				return abort(exitConfig, "%v (capturing needs CAP_NET_RAW: run as root or grant it)", err)
			}
			return abort(exitConfig, "%v", err)
		}
		for _, r := range rings {
			l.add(source{
				name: name, kind: "interface", src: r,
				idle: func(err error) bool { return errors.Is(err, afpacket.ErrTimeout) },
				stats: func() (uint64, uint64) {
					s := r.Stats()
					return s.Packets, s.Drops
				},
				extra: func() map[string]uint64 {
					s := r.Stats()
					return map[string]uint64{"truncated": s.Truncated, "freezes": s.FreezeCount}
				},
			})
		}
	}
	l.inputs = links.inputs
	if len(serialCfgs) > 0 {
		src, err := openSerial(ctx, cfg, serialCfgs, len(inputs), log)
		if err != nil {
			return abort(exitConfig, "%v", err)
		}
		l.add(src)
		for _, c := range serialCfgs {
			inputs = append(inputs, c.Name)
		}
	}
	p.det.SetInputs(inputs)

	if cfg.Metrics != "" {
		m, err := serveMetrics(cfg.Metrics, log)
		if err != nil {
			return abort(exitConfig, "--metrics %s: %v", cfg.Metrics, err)
		}
		defer m.close()
		l.onStats = m.update
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if s == syscall.SIGHUP {
				go reload(l, cfg, f.config, &f, level, stdout, log)
				continue
			}
			log.Info("stopping", "signal", s.String())
			cancel()
			return
		}
	}()

	log.Info("sensor running", "interfaces", cfg.Capture.Interfaces, "workers", cfg.Capture.Workers,
		"serial", len(serialCfgs), "state", cfg.State, "mode", cfg.Detect.Mode)
	runErr := l.run(ctx)
	if err := p.st.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "sensor run: writing output: %v\n", err)
		return exitIOErr
	}
	if c, ok := l.outFile.(io.Closer); ok && l.outFile != stdout {
		c.Close()
	}
	if runErr != nil {
		log.Error("sensor stopped with an error", "err", runErr)
		return exitFailure
	}
	for _, w := range l.workers {
		if w.read().err != "" {
			return exitFailure
		}
	}
	return exitOK
}

func parsePositive(s string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 1 || fmt.Sprint(n) != s {
		return 0, fmt.Errorf("%q is not a positive number", s)
	}
	return n, nil
}

func openOutput(cfg *Config, stdout, stderr io.Writer) (io.Writer, int) {
	if cfg.Output.File == "" || cfg.Output.File == "-" {
		return stdout, exitOK
	}
	file, err := os.OpenFile(cfg.Output.File, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(stderr, "sensor run: --out: %v\n", err)
		return nil, exitCantCreate
	}
	return file, exitOK
}

// openRings opens the capture rings of one interface: one, or a fanout
// group of cfg.Capture.Workers.
func openRings(cfg *Config, name string, input int) ([]*afpacket.Ring, error) {
	n := cfg.Capture.Workers
	filter, err := parseBPF(cfg.Capture.BPF) // validated with the config
	if err != nil {
		return nil, err
	}
	ac := afpacket.Config{
		Filter:    filter,
		Iface:     name,
		BlockSize: int(cfg.Capture.BlockSize),
		NumBlocks: cfg.Capture.NumBlocks,
		FrameSize: int(cfg.Capture.FrameSize),
		Snaplen:   cfg.Capture.Snaplen,
		Input:     input,
	}
	if n > 1 {
		// A group id of our own: fanout groups are per network namespace.
		ac.Fanout = afpacket.Fanout{Group: uint16(os.Getpid()+input*131) | 1, Size: n}
	}
	var rings []*afpacket.Ring
	for i := 0; i < n; i++ {
		r, err := afpacket.Open(ac)
		if err != nil {
			for _, o := range rings {
				o.Close()
			}
			return nil, err
		}
		rings = append(rings, r)
	}
	return rings, nil
}

// reload applies the config file again (SIGHUP).
func reload(l *live, cur *Config, path string, f *readFlags, level *slog.LevelVar, stdout io.Writer, log *slog.Logger) {
	next := defaultConfig()
	if path != "" {
		var err error
		if next, err = loadConfig(path); err != nil {
			log.Error("reload: config not applied", "err", err)
			return
		}
	}
	if code := applyReadFlags(next, f, io.Discard); code != exitOK {
		log.Error("reload: flags do not apply to the new config")
		return
	}
	var restart []string
	if !slices.Equal(next.Capture.Interfaces, cur.Capture.Interfaces) && len(next.Capture.Interfaces) > 0 ||
		next.Capture.Workers != cur.Capture.Workers || next.Capture.BlockSize != cur.Capture.BlockSize ||
		next.Capture.NumBlocks != cur.Capture.NumBlocks || next.Capture.FrameSize != cur.Capture.FrameSize ||
		next.Capture.Snaplen != cur.Capture.Snaplen {
		restart = append(restart, "capture")
	}
	if !slices.Equal(next.Serial.Ports, cur.Serial.Ports) && len(next.Serial.Ports) > 0 || next.Serial.Capture != cur.Serial.Capture {
		restart = append(restart, "serial")
	}
	if next.State != cur.State {
		restart = append(restart, "state")
	}
	if next.Metrics != cur.Metrics && next.Metrics != "" {
		restart = append(restart, "metrics")
	}
	if next.Sensor != cur.Sensor || next.Site != cur.Site {
		restart = append(restart, "sensor/site names")
	}
	emit, _ := output.ParseEmit(strings.Join(next.Output.Emit, ","))
	var newOut io.Writer
	if next.Output.File != "" && next.Output.File != "-" {
		file, err := os.OpenFile(next.Output.File, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			log.Error("reload: output file not reopened", "file", next.Output.File, "err", err)
		} else {
			newOut = file
		}
	}
	l.onDetector(func() {
		l.det.Reconfigure(next.detectConfig())
		target := newOut
		if target == nil {
			target = l.outFile // the new file could not be opened: keep the old
		}
		if next.Output.File == "" || next.Output.File == "-" {
			target = stdout
		}
		if err := l.out.Reset(target, emit); err != nil {
			log.Error("reload: flushing the old output", "err", err)
		}
		if c, ok := l.outFile.(io.Closer); ok && l.outFile != stdout && target != l.outFile {
			c.Close()
		}
		l.outFile = target
	})
	_ = level.UnmarshalText([]byte(next.Log.Level))
	log.Info("config reloaded", "detect_mode", next.Detect.Mode, "emit", emit.String())
	if len(restart) > 0 {
		log.Warn("reload: these settings changed but need a restart to apply", "settings", strings.Join(restart, ", "))
	}
}

func newLeveledLogger(cfg *Config, stderr io.Writer, level *slog.LevelVar) *slog.Logger {
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

// linkState keeps what board/netif said of each interface, for stats.
type linkState struct {
	ctl     netif.Controller
	mu      sync.Mutex
	state   map[string]string
	refused map[string][]string
}

func newLinkState() *linkState {
	return &linkState{state: map[string]string{}, refused: map[string][]string{}}
}

func (s *linkState) prepared(name string, rep netif.Report) {
	var r []string
	for _, f := range rep.Refused() {
		r = append(r, f.Name)
	}
	s.mu.Lock()
	s.refused[name] = r
	s.mu.Unlock()
}

func (s *linkState) watch(ch <-chan netif.LinkEvent, log *slog.Logger) {
	for ev := range ch {
		st := ev.State.String()
		s.mu.Lock()
		old := s.state[ev.Name]
		s.state[ev.Name] = st
		s.mu.Unlock()
		if old != "" && old != st {
			log.Warn("capture link changed", "iface", ev.Name, "from", old, "to", st)
		}
	}
}

// inputs returns each interface's link state, refused offloads and NIC
// counters (frames the NIC or the kernel dropped before any capture).
func (s *linkState) inputs() []output.InputStats {
	s.mu.Lock()
	names := map[string]bool{}
	for name := range s.state {
		names[name] = true
	}
	for name := range s.refused {
		names[name] = true
	}
	var in []output.InputStats
	for name := range names {
		in = append(in, output.InputStats{Name: name, Link: s.state[name], Refused: s.refused[name]})
	}
	s.mu.Unlock()
	for i := range in {
		if s.ctl == nil {
			break
		}
		if c, err := s.ctl.Counters(in[i].Name); err == nil {
			in[i].Extra = map[string]uint64{"nic_rx_missed": c.RxMissed, "nic_rx_errors": c.RxErrors}
		}
	}
	return in
}
