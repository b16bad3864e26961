package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tapwire/tapwire/detect"
	"github.com/tapwire/tapwire/detect/output"
	"github.com/tapwire/tapwire/dissect/modbus"
	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/pcapfile"
)

const readUsage = `Usage: sensor read [flags] FILE...

Reads pcap and pcapng capture files in order, as if they were live traffic
(network captures, and Modbus RTU captures written by 'sensor run --serial-capture')
(packet time comes from the files, never the clock), and writes what it finds
as JSON Lines: one record per line, of type event, asset, alert, risk, stats.

Flags:
  --config FILE        configuration file (YAML, version 1)
  --state DIR          keep the inventory and what was learned in DIR (badger);
                       without it, a temporary in-memory state is used
  --mode MODE          learn: only learn into --state; detect: alert against what
                       was learned before, learn nothing; auto (default): learn
                       for --learn-for of packet time, then detect
  --learn-for DUR      auto mode's learning window (default 1h; e.g. 30m, 2h)
  --out FILE           write records to FILE instead of standard output
  --emit LIST          record types to write (default event,asset,alert,risk,stats)
  --sensor NAME        sensor name written into every record
  --site NAME          site name written into every record
  --mqtt URL           publish to a broker as 'sensor run' does (not in this build)

Exit codes: 0 success; 2 a damaged input file (what came before the damage is
written, the other files are still read); 64 usage error; 66 an input file
missing, unreadable or of an unsupported link type; 73 the output file cannot
be created; 74 writing the output failed; 78 a bad config or state directory.
`

// readFlags are the flags read and run share (run has no --mode or
// --learn-for flags; the config file sets them).
type readFlags struct {
	config, state, mode, learnFor, out, emit, sensor, site, mqtt string
	help                                                         bool
	set                                                          map[string]bool
}

// newFlagSet makes the flag set of a subcommand with the shared flags.
func newFlagSet(name string, f *readFlags) *flag.FlagSet {
	fset := flag.NewFlagSet(name, flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	fset.StringVar(&f.config, "config", "", "")
	fset.StringVar(&f.state, "state", "", "")
	fset.StringVar(&f.out, "out", "", "")
	fset.StringVar(&f.emit, "emit", "", "")
	fset.StringVar(&f.sensor, "sensor", "", "")
	fset.StringVar(&f.site, "site", "", "")
	fset.StringVar(&f.mqtt, "mqtt", "", "")
	fset.BoolVar(&f.help, "help", false, "")
	fset.BoolVar(&f.help, "h", false, "")
	return fset
}

// parsed records which flags were given, after Parse.
func (f *readFlags) parsed(fset *flag.FlagSet) {
	f.set = map[string]bool{}
	fset.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments (sensor read a.pcap --emit alert b.pcap).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func cmdRead(args []string, stdout, stderr io.Writer) int {
	var f readFlags
	fset := newFlagSet("read", &f)
	fset.StringVar(&f.mode, "mode", "", "")
	fset.StringVar(&f.learnFor, "learn-for", "", "")
	files, err := parseInterspersed(fset, args)
	if err != nil {
		fmt.Fprintf(stderr, "sensor read: %v\n\n%s", err, readUsage)
		return exitUsage
	}
	if f.help {
		fmt.Fprint(stdout, readUsage)
		return exitOK
	}
	f.parsed(fset)
	if len(files) == 0 {
		fmt.Fprintf(stderr, "sensor read: no capture file given\n\n%s", readUsage)
		return exitUsage
	}
	if f.set["mqtt"] {
		fmt.Fprintln(stderr, "sensor read: --mqtt: this build has no uplink yet; publishing to a broker is not available")
		return exitUsage
	}

	cfg := defaultConfig()
	if f.config != "" {
		if cfg, err = loadConfig(f.config); err != nil {
			fmt.Fprintf(stderr, "sensor read: config %v\n", err)
			return exitConfig
		}
	}
	if code := applyReadFlags(cfg, &f, stderr); code != exitOK {
		return code
	}
	log := newLogger(cfg, stderr)

	emit, _ := output.ParseEmit(strings.Join(cfg.Output.Emit, ","))
	var w io.Writer = stdout
	if cfg.Output.File != "" && cfg.Output.File != "-" {
		file, err := os.Create(cfg.Output.File)
		if err != nil {
			fmt.Fprintf(stderr, "sensor read: --out: %v\n", err)
			return exitCantCreate
		}
		defer file.Close()
		w = file
	}
	out := output.NewWriter(w, emit, cfg.Sensor, cfg.Site)

	p, err := newPipeline(cfg, out, log)
	if err != nil {
		fmt.Fprintf(stderr, "sensor read: %v\n", err)
		return exitConfig
	}
	p.det.SetInputs(files)

	code := exitOK
	src := pcapfile.NewMulti(files, func(path string, err error) {
		c := exitDamaged
		if !errors.Is(err, drivers.ErrDamaged) {
			c = exitNoInput
		}
		if c > code {
			code = c
		}
		log.Error("cannot read capture", "file", path, "err", err)
	})
	// Modbus RTU captures (RTAC serial link type): ports are named by the
	// capture's interface names.
	rtu := modbus.NewRTUHandler(nil)
	rtu.SetPortNamer(func(*drivers.Frame) string { _, name := src.Interface(); return name })
	p.eng.HandleLink(drivers.LinkRTACSerial, rtu)
	runErr := p.run(src)
	src.Close()
	var inputs []output.InputStats
	for _, r := range src.Results() {
		in := output.InputStats{Name: r.Path, Packets: r.Packets}
		if r.Err != nil {
			in.Error = r.Err.Error()
		}
		inputs = append(inputs, in)
	}
	if err := p.close(inputs, rtuCounters(rtu)); err != nil {
		log.Error("saving state failed", "err", err)
		if code == exitOK {
			code = exitFailure
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "sensor read: writing output: %v\n", err)
		return exitIOErr
	}
	if runErr != nil {
		log.Error("read stopped", "err", runErr)
		if code == exitOK {
			code = exitFailure
		}
	}
	return code
}

// applyReadFlags lays the flags over the config (flags win).
func applyReadFlags(cfg *Config, f *readFlags, stderr io.Writer) int {
	if f.set["state"] {
		cfg.State = f.state
	}
	if f.set["mode"] {
		if _, err := detect.ParseMode(f.mode); err != nil {
			fmt.Fprintf(stderr, "sensor read: --mode: %v\n", err)
			return exitUsage
		}
		cfg.Detect.Mode = f.mode
	}
	if f.set["learn-for"] {
		d, err := time.ParseDuration(f.learnFor)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "sensor read: --learn-for: %q is not a positive duration (e.g. 30m, 1h)\n", f.learnFor)
			return exitUsage
		}
		cfg.Detect.LearnFor = Duration(d)
	}
	if f.set["out"] {
		cfg.Output.File = f.out
	}
	if f.set["emit"] {
		if _, err := output.ParseEmit(f.emit); err != nil {
			fmt.Fprintf(stderr, "sensor read: --emit: %v\n", err)
			return exitUsage
		}
		cfg.Output.Emit = strings.Split(f.emit, ",")
	}
	if f.set["sensor"] {
		cfg.Sensor = f.sensor
	}
	if f.set["site"] {
		cfg.Site = f.site
	}
	return exitOK
}

func newLogger(cfg *Config, stderr io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}
