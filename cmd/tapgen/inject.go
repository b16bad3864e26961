package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/pcapfile"
)

// More exit codes (sysexits) of `tapgen inject`.
const (
	exitDataErr     = 65 // EX_DATAERR: the capture is damaged
	exitNoInput     = 66 // EX_NOINPUT: the capture is missing, unreadable or not a capture
	exitUnavailable = 69 // EX_UNAVAILABLE: not supported on this system
	exitOSErr       = 71 // EX_OSERR: the socket or ring could not be set up or used
)

const injectUsage = `Usage: tapgen inject -i IFACE [-rate PPS] [-loop N] [-batch N] FILE.pcap

Sends the Ethernet frames of a capture (pcap or pcapng) out of IFACE as
fast as the kernel takes them, or at -rate packets per second, through an
AF_PACKET TX ring (TPACKET_V2): many frames are written into the ring, then
handed to the kernel with one system call. The rate is kept over 1 ms
intervals, not per packet. Packet times in the file are ignored. The whole
file is read into memory first. Frames longer than the interface's MTU
allows and frames of other link types are skipped and counted. At the end
(or on Ctrl-C) it prints the packets sent and the rate reached.

Needs CAP_NET_RAW (root). For benchmarks on a veth pair in a network
namespace you created; never point it at a production network.

Exit codes: 0 success, 64 usage error, 65 damaged capture, 66 capture
missing or unreadable, 69 not supported on this system, 71 socket error.

Flags:
`

// injectConfig is what `tapgen inject` was asked to do.
type injectConfig struct {
	iface string
	rate  int // packets per second; 0: as fast as possible
	loops int // passes over the file; 0: until interrupted
	batch int // frames per system call
	file  string
}

func injectFlags(args []string, stderr io.Writer) (injectConfig, error) {
	cfg := injectConfig{loops: 1, batch: 256}
	fs := flag.NewFlagSet("tapgen inject", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, injectUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.iface, "i", "", "interface to send on (required)")
	fs.IntVar(&cfg.rate, "rate", 0, "packets per second; 0 sends as fast as possible")
	fs.IntVar(&cfg.loops, "loop", 1, "passes over the file; 0 repeats until interrupted")
	fs.IntVar(&cfg.batch, "batch", 256, "frames handed to the kernel per system call")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.iface == "":
		return cfg, usageError(fs, "-i IFACE is required")
	case fs.NArg() != 1:
		return cfg, usageError(fs, "one capture file is required")
	case cfg.rate < 0:
		return cfg, usageError(fs, "-rate must not be negative")
	case cfg.loops < 0:
		return cfg, usageError(fs, "-loop must not be negative")
	case cfg.batch < 1 || cfg.batch > txFrames/2:
		return cfg, usageError(fs, fmt.Sprintf("-batch must be between 1 and %d", txFrames/2))
	}
	cfg.file = fs.Arg(0)
	return cfg, nil
}

// errInjectUsage: the command line is wrong (and was explained).
var errInjectUsage = errors.New("usage")

func usageError(fs *flag.FlagSet, msg string) error {
	fmt.Fprintf(fs.Output(), "tapgen inject: %s\n", msg)
	fs.Usage()
	return errInjectUsage
}

// txFrames is the number of frames in the TX ring.
const txFrames = 4096

// loadFrames reads the Ethernet frames of a capture into memory. It also
// returns how many frames of other link types it skipped.
func loadFrames(path string) (frames [][]byte, skipped int, err error) {
	r, err := pcapfile.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	var buf []byte
	var ends []int
	var f drivers.Frame
	for {
		err := r.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if f.Link != drivers.LinkEthernet || len(f.Data) < 14 {
			skipped++
			continue
		}
		buf = append(buf, f.Data...)
		ends = append(ends, len(buf))
	}
	frames = make([][]byte, len(ends))
	start := 0
	for i, end := range ends {
		frames[i] = buf[start:end:end]
		start = end
	}
	return frames, skipped, nil
}

// loadExit maps an error of loadFrames to an exit code.
func loadExit(err error) int {
	if errors.Is(err, drivers.ErrDamaged) {
		return exitDataErr
	}
	return exitNoInput
}

// injectResult is what an injection did.
type injectResult struct {
	Packets, Bytes int64   // frames the kernel sent
	TooLong        int64   // frames skipped: longer than the MTU allows
	Seconds        float64 // from the first frame to the last one sent
}

func (r injectResult) pps() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Packets) / r.Seconds
}

func (r injectResult) print(w io.Writer, cfg injectConfig, other int) {
	fmt.Fprintf(w, "tapgen inject: %s: %d packets (%d bytes) in %.3f s: %.0f pps, %.1f Mbit/s",
		cfg.iface, r.Packets, r.Bytes, r.Seconds, r.pps(), float64(r.Bytes)*8/1e6/max(r.Seconds, 1e-9))
	if cfg.rate > 0 {
		fmt.Fprintf(w, " (asked %d pps)", cfg.rate)
	}
	fmt.Fprintln(w)
	if r.TooLong > 0 || other > 0 {
		fmt.Fprintf(w, "tapgen inject: skipped %d frames longer than %s's MTU allows, %d frames not Ethernet\n",
			r.TooLong, cfg.iface, other)
	}
}

func runInject(args []string, stdout, stderr io.Writer) int {
	cfg, err := injectFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	frames, other, err := loadFrames(cfg.file)
	if err != nil {
		fmt.Fprintf(stderr, "tapgen inject: %v\n", err)
		return loadExit(err)
	}
	if len(frames) == 0 {
		fmt.Fprintf(stderr, "tapgen inject: %s: no Ethernet frames to send\n", cfg.file)
		return exitNoInput
	}
	res, err := injectFile(cfg, frames)
	res.print(stdout, cfg, other)
	if err != nil {
		fmt.Fprintf(stderr, "tapgen inject: %v\n", err)
		if errors.Is(err, errInjectUnsupported) {
			return exitUnavailable
		}
		return exitOSErr
	}
	return exitOK
}

// errInjectUnsupported: no TX ring on this system.
var errInjectUnsupported = errors.New("not supported on this system")
