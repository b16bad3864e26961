package main

// tapgen rtu: a Modbus RTU serial line.
//
//	tapgen rtu [flags] -o FILE.pcapng [-raw FILE.txt]
//
// One RS-485 line (-port, -baud, -format) with a master polling -slaves
// slaves (addresses 1..N; their identities are the serial devices of the
// TCP plant: Schneider PM5560, ABB ACS580, …). The master first reads each
// slave's identification (43/14 basic stream) and server id (17), then
// polls every -period: a poll table of 1–3 reads per slave (3 holding
// registers, 4 input registers, 1 coils); in 6% of cycles one write to a
// random slave (6 setpoint 50%, 16 setpoints 25%, 5 coil 15%, 15 coils
// 10%); in 1% a broadcast write (6 to address 0, unanswered); in 1% a
// diagnostics 8/0 "return query data" (echoed). Every tenth cycle it also
// asks a slave that is gone (address N+10) and waits 100 ms for nothing.
// -exceptions of the responses are exception 2.
//
// Timing follows Modbus over Serial Line V1.02: a character takes 11 bits
// for 8E1 and 8N2, 10 for 8N1, bytes of a frame follow each other without
// a pause, and frames are at least 3.5 character times apart (1.75 ms above
// 19200 baud): a slave answers 3.5 character times plus 1–8 ms after the
// request, the master asks again 3.5 character times plus 0.5–3 ms after
// the response. -back-to-back removes every silence: each frame starts
// right after the previous one (a stress for framers that count on gaps).
//
// Faults, each a fraction of the frames: -noise puts 1–4 bytes of noise
// (0x00, as a line break reads, or 0xF8..0xFF) in the silence before a
// frame; -crc-errors flips a bit in a frame's CRC; -truncate cuts a frame
// after 2 bytes or more, short of its end. A slave ignores a corrupt
// request (the master then waits 100 ms); a corrupt response is lost. The
// faults draw from their own random stream: the same seed gives the same
// traffic with or without them.
//
// The output (-o) is an RTU capture as the sensor's serial tap writes it
// (drivers/serial: pcapng, LINKTYPE_RTAC_SERIAL, one interface named
// -port), one record per transmission at the time its last byte arrives,
// its event type telling what it is: 0x03 a request, 0x04 a response,
// 0x07 a frame with a CRC error, 0x05 a frame cut short, 0x08 noise. tshark
// reads it with `tshark -r FILE -d rtacser.data,mbrtu`. -raw writes the
// line's bytes for replay (the serial tap's tests write them into a
// pseudo-terminal): a line per transmission with the time its first byte
// starts on the wire (ns since the epoch), its bytes in hex and its kind
// (request, response, crc_error, truncated, noise).

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// rtuFlags parses the flags of `tapgen rtu`.
func rtuFlags(args []string, stderr io.Writer) (cfg rtuConfig, out, raw string, err error) {
	cfg = defaultRTUConfig()
	fs := flag.NewFlagSet("tapgen rtu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: tapgen rtu [flags] -o FILE.pcapng [-raw FILE.txt]

Writes an RTU capture (pcapng, LINKTYPE_RTAC_SERIAL, as the sensor's
serial tap writes it) of a Modbus RTU line: a master polling slaves with
the spec's timing, optional faults. -raw also writes the line's raw bytes
with their times. tshark reads the capture with:
  tshark -r FILE.pcapng -d rtacser.data,mbrtu

Flags:
`)
		fs.PrintDefaults()
	}
	seed := fs.Uint64("seed", cfg.seed, "seed of every random choice")
	fs.StringVar(&cfg.port, "port", cfg.port, "the port's name (the capture's interface name)")
	fs.IntVar(&cfg.baud, "baud", cfg.baud, "bit rate")
	format := fs.String("format", "8E1", "data bits, parity and stop bits: 8E1, 8N1, 8O1, 8N2")
	fs.IntVar(&cfg.slaves, "slaves", cfg.slaves, "number of slaves (1..200)")
	fs.DurationVar(&cfg.period, "period", cfg.period, "poll cycle period")
	fs.DurationVar(&cfg.duration, "duration", cfg.duration, "packet time the line covers")
	fs.IntVar(&cfg.frames, "frames", 0, "stop after this many transmissions (duration is then unbounded)")
	fs.BoolVar(&cfg.backToBack, "back-to-back", false, "no silence between frames")
	fs.Float64Var(&cfg.exceptions, "exceptions", cfg.exceptions, "fraction of responses that are exception 2")
	fs.Float64Var(&cfg.noise, "noise", 0, "fraction of frames preceded by noise")
	fs.Float64Var(&cfg.crcErrors, "crc-errors", 0, "fraction of frames sent with a CRC error")
	fs.Float64Var(&cfg.truncate, "truncate", 0, "fraction of frames cut short")
	start := fs.String("start", cfg.start.Format(time.RFC3339), "packet time the line starts at (RFC 3339)")
	fs.StringVar(&out, "o", "", "output RTU capture (- for stdout)")
	fs.StringVar(&raw, "raw", "", "also write the raw line to this file")
	if err = fs.Parse(args); err != nil {
		return
	}
	if fs.NArg() > 0 {
		return cfg, out, raw, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	cfg.seed = *seed
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if out == "" {
		bad("-o FILE is required")
	}
	f := strings.ToUpper(*format)
	if len(f) != 3 || (f[0] != '7' && f[0] != '8') || !strings.ContainsRune("NEO", rune(f[1])) || (f[2] != '1' && f[2] != '2') {
		bad("-format %q: want data bits 7 or 8, parity N, E or O, stop bits 1 or 2 (8E1, 8N1…)", *format)
	} else {
		cfg.dataBits, cfg.parity, cfg.stopBits = int(f[0]-'0'), f[1], int(f[2]-'0')
	}
	if cfg.dataBits != 0 {
		if err := (&rtuGen{cfg: cfg}).port().Validate(); err != nil {
			bad("%v", err) // a baud rate the sensor cannot be set to
		}
	}
	if cfg.slaves < 1 || cfg.slaves > 200 {
		bad("-slaves %d: want 1..200", cfg.slaves)
	}
	if cfg.period < time.Millisecond {
		bad("-period %v: want at least 1ms", cfg.period)
	}
	if explicit["frames"] && explicit["duration"] {
		bad("-duration and -frames exclude each other")
	}
	if cfg.frames < 0 {
		bad("-frames %d: want a positive count", cfg.frames)
	}
	if cfg.frames > 0 {
		cfg.duration = 0
	} else if cfg.duration < time.Second {
		bad("-duration %v: want at least 1s", cfg.duration)
	}
	for name, v := range map[string]float64{"exceptions": cfg.exceptions, "noise": cfg.noise, "crc-errors": cfg.crcErrors, "truncate": cfg.truncate} {
		if v < 0 || v > 0.5 {
			bad("-%s %v: want 0..0.5", name, v)
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, *start); err != nil {
		bad("-start %q: not an RFC 3339 time", *start)
	} else {
		cfg.start = t.UTC()
	}
	return cfg, out, raw, errors.Join(errs...)
}

func runRTU(args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, out, raw, err := rtuFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "tapgen rtu: %s\n", line)
		}
		fmt.Fprintln(stderr, "Run 'tapgen rtu -h' for the flags.")
		return exitUsage
	}
	g := newRTUGen(cfg)
	g.run()

	var w io.Writer = stdout
	var f *os.File
	if out != "-" {
		if f, err = os.Create(out); err != nil {
			log.Error("cannot create capture", "file", out, "err", err)
			return exitCantCreat
		}
		defer f.Close()
		w = f
	}
	var rf *os.File
	if raw != "" {
		if rf, err = os.Create(raw); err != nil {
			log.Error("cannot create raw file", "file", raw, "err", err)
			return exitCantCreat
		}
		defer rf.Close()
	}
	err = g.writeCapture(w)
	if err == nil && f != nil {
		err = f.Close()
	}
	if err == nil && rf != nil {
		if err = g.writeRaw(rf); err == nil {
			err = rf.Close()
		}
	}
	if err != nil {
		log.Error("writing failed", "file", out, "err", err)
		return exitIOErr
	}
	st := g.st
	var span time.Duration
	if len(g.tx) > 0 {
		span = time.Duration(g.endOf(&g.tx[len(g.tx)-1]) - g.tx[0].start)
	}
	log.Info("RTU capture written", "file", out, "port", cfg.port, "baud", cfg.baud,
		"transmissions", st.frames, "bytes", st.bytes, "requests", st.requests, "responses", st.responses,
		"exceptions", st.exceptions, "broadcasts", st.broadcasts, "timeouts", st.timeouts,
		"crc_errors", st.crcErrors, "truncated", st.truncated, "noise_bytes", st.noiseBytes, "span", span,
		"functions", funcMix(st.requestFuncs))
	return exitOK
}

// funcMix lists request function codes and their counts: "3:164 4:80".
func funcMix(m map[byte]int) string {
	var b strings.Builder
	for fc := 0; fc < 256; fc++ {
		if n := m[byte(fc)]; n > 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%d:%d", fc, n)
		}
	}
	return b.String()
}
