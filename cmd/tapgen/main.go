package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Exit codes (sysexits).
const (
	exitOK        = 0
	exitUsage     = 64 // EX_USAGE
	exitCantCreat = 73 // EX_CANTCREAT: an output file cannot be created
	exitIOErr     = 74 // EX_IOERR: writing an output failed
)

// version and commit are set at link time (-ldflags "-X main.version=…
// -X main.commit=…"); without them the build info is used.
var (
	version = ""
	commit  = ""
)

const usage = `tapgen writes realistic, deterministic Modbus/TCP capture files for tests
and benchmarks: masters polling PLCs, optional attacks, optional capture
impairments. The same flags always give the same bytes.

Usage:
  tapgen modbus [flags] -o FILE.pcap   write a capture (see tapgen modbus -h)
  tapgen rtu [flags] -o FILE.pcapng    write a Modbus RTU serial capture (see tapgen rtu -h)
  tapgen version                       print the version
  tapgen --help                        print this help

Examples:
  tapgen modbus -o clean.pcap -truth clean.truth.jsonl
  tapgen modbus -attacks all -o attacks.pcap
  tapgen modbus -impair split,lose -impair-rate 0.2 -o impaired.pcap
  tapgen modbus -masters 8 -plcs 32 -packets 2000000 -period 100ms -o big.pcap

Exit codes: 0 success, 64 usage error, 73 an output file cannot be created,
74 writing an output failed.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; tests call it directly.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "tapgen %s %s/%s\n", versionString(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	case "modbus":
		return runModbus(args[1:], stdout, stderr)
	case "inject":
		return runInject(args[1:], stdout, stderr)
	case "rtu":
		return runRTU(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "tapgen: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// versionString is "VERSION (commit COMMIT, GOVERSION)".
func versionString() string {
	v, c := version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && c == "" && len(s.Value) >= 7 {
				c = s.Value[:7]
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if c != "" {
		return fmt.Sprintf("%s (commit %s, %s)", v, c, runtime.Version())
	}
	return fmt.Sprintf("%s (%s)", v, runtime.Version())
}

// modbusFlags parses the flags of `tapgen modbus`.
func modbusFlags(args []string, stderr io.Writer) (cfg config, out, truth string, err error) {
	cfg = defaultConfig()
	fs := flag.NewFlagSet("tapgen modbus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: tapgen modbus [flags] -o FILE.pcap

Writes a classic pcap (Ethernet, microsecond timestamps) of Modbus/TCP
traffic: masters at 10.10.1.x poll PLCs at 10.10.2.x; attackers come from
10.10.9.x. Packet times start at -start; nothing depends on the wall clock.

Attacks (-attacks, comma list or "all"), placed at a fixed fraction of the
duration (of -packets when given):
  new-writer   72%  10.10.9.66 writes coils (FC 5, FC 15) and a register (FC 6)
  restart      78%  10.10.9.67 sends FC 8/1 restart communications
  listen-only  84%  10.10.9.69 sends FC 8/4; the PLC stays silent for 10 s
  scan         90%  10.10.9.68 sweeps unit ids 1..247 of a gateway with FC 43/14

Impairments (-impair, comma list or "all") change only how the byte
streams are cut into segments: split, coalesce, retransmit, lose, reorder.

Flags:
`)
		fs.PrintDefaults()
	}
	seed := fs.Uint64("seed", cfg.seed, "seed of every random choice")
	fs.IntVar(&cfg.masters, "masters", cfg.masters, "number of Modbus masters (1..200)")
	fs.IntVar(&cfg.plcs, "plcs", cfg.plcs, "number of PLCs (1..250)")
	fs.DurationVar(&cfg.duration, "duration", cfg.duration, "packet time the capture covers")
	fs.Int64Var(&cfg.packets, "packets", 0, "stop after exactly this many packets (duration is then unbounded)")
	fs.DurationVar(&cfg.period, "period", cfg.period, "poll period of HMI masters (SCADA masters poll every 4 periods)")
	fs.Float64Var(&cfg.jitter, "jitter", cfg.jitter, "poll period jitter, a fraction of the period (0..0.5)")
	start := fs.String("start", cfg.start.Format(time.RFC3339), "packet time the capture starts at (RFC 3339); connections open in its first 300 ms")
	port := fs.Int("server-port", int(cfg.serverPort), "TCP port of the PLCs")
	attacks := fs.String("attacks", "", "attacks to add: new-writer,restart,listen-only,scan or all")
	impair := fs.String("impair", "", "impairments: split,coalesce,retransmit,lose,reorder or all")
	fs.Float64Var(&cfg.impairRate, "impair-rate", cfg.impairRate, "fraction of data segments impaired (0..1)")
	fs.StringVar(&truth, "truth", "", "also write one JSON line per PDU to this file")
	fs.StringVar(&out, "o", "", "output pcap file (- for stdout)")
	if err = fs.Parse(args); err != nil {
		return
	}
	if fs.NArg() > 0 {
		return cfg, out, truth, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	cfg.seed = *seed
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if out == "" {
		bad("-o FILE is required")
	}
	if cfg.masters < 1 || cfg.masters > 200 {
		bad("-masters %d: want 1..200", cfg.masters)
	}
	if cfg.plcs < 1 || cfg.plcs > 250 {
		bad("-plcs %d: want 1..250", cfg.plcs)
	}
	if explicit["packets"] && explicit["duration"] {
		bad("-duration and -packets exclude each other")
	}
	if cfg.packets < 0 {
		bad("-packets %d: want a positive count", cfg.packets)
	}
	if cfg.packets > 0 {
		cfg.duration = 0
	} else if cfg.duration < time.Second {
		bad("-duration %v: want at least 1s", cfg.duration)
	}
	if cfg.period < time.Millisecond {
		bad("-period %v: want at least 1ms", cfg.period)
	}
	if cfg.jitter < 0 || cfg.jitter > 0.5 {
		bad("-jitter %v: want 0..0.5", cfg.jitter)
	}
	if t, err := time.Parse(time.RFC3339Nano, *start); err != nil {
		bad("-start %q: not an RFC 3339 time", *start)
	} else {
		cfg.start = t.UTC().Truncate(time.Microsecond)
	}
	if *port < 1 || *port > 65535 {
		bad("-server-port %d: want 1..65535", *port)
	}
	cfg.serverPort = uint16(*port)
	if cfg.attacks, err = parseAttacks(*attacks); err != nil {
		bad("-attacks: %v", err)
	}
	if cfg.impair, err = parseImpair(*impair); err != nil {
		bad("-impair: %v", err)
	}
	if cfg.impairRate < 0 || cfg.impairRate > 1 {
		bad("-impair-rate %v: want 0..1", cfg.impairRate)
	}
	return cfg, out, truth, errors.Join(errs...)
}

func runModbus(args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, out, truth, err := modbusFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "tapgen modbus: %s\n", line)
		}
		fmt.Fprintln(stderr, "Run 'tapgen modbus -h' for the flags.")
		return exitUsage
	}

	var pw io.Writer = stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			log.Error("cannot create capture", "file", out, "err", err)
			return exitCantCreat
		}
		defer f.Close()
		pw = f
	}
	var tw io.Writer
	if truth != "" {
		f, err := os.Create(truth)
		if err != nil {
			log.Error("cannot create truth file", "file", truth, "err", err)
			return exitCantCreat
		}
		defer f.Close()
		tw = f
	}
	st, err := generate(cfg, pw, tw)
	if err == nil && out != "-" {
		err = pw.(*os.File).Close()
	}
	if err == nil && tw != nil {
		err = tw.(*os.File).Close()
	}
	if err != nil {
		log.Error("writing failed", "file", out, "err", err)
		return exitIOErr
	}
	log.Info("capture written", "file", out, "packets", st.packets, "bytes", st.bytes,
		"pdus", st.pdus, "lost_pdus", st.lost, "span", time.Duration(st.last-st.first)*time.Microsecond,
		"plant", st.plant)
	return exitOK
}

// stats summarises one generated capture.
type stats struct {
	packets, bytes, pdus, lost int64
	first, last                int64 // µs since the epoch
	plant                      string
}

// generate writes the capture described by cfg to pcapOut and, when
// truthOut is not nil, its truth records.
func generate(cfg config, pcapOut, truthOut io.Writer) (stats, error) {
	sk, err := newSink(pcapOut, truthOut, cfg.packets)
	if err != nil {
		return stats{}, err
	}
	g := newGen(cfg, newOutQueue(sk))
	sk.hosts = g.hosts
	err = g.run()
	if cerr := sk.close(); err == nil {
		err = cerr
	}
	return stats{
		packets: sk.packets, bytes: sk.bytes, pdus: sk.pdus, lost: sk.lost,
		first: sk.first, last: sk.last, plant: g.summary(),
	}, err
}
