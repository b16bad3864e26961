package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/modbus"
	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/serial"
)

// rtuCounters are an RTU handler's counters as the stats record names them.
func rtuCounters(h *modbus.RTUHandler) map[string]uint64 {
	s := h.Stats()
	if s.Records == 0 {
		return nil
	}
	return map[string]uint64{
		"records": s.Records, "frames": s.ADUs, "crc_errors": s.CRCErrors, "truncated": s.Truncated,
		"noise": s.Noise, "noise_bytes": s.NoiseBytes, "invalid": s.Invalid, "decode_errors": s.DecodeErrors,
	}
}

// openSerial opens the serial tap on ports as one capture source: its
// frames are Modbus RTU records (Input firstInput+i for port i), decoded by
// an RTU handler in the worker's engine, and written to the serial capture
// file when one is configured.
func openSerial(ctx context.Context, cfg *Config, ports []serial.Config, firstInput int, log *slog.Logger) (source, error) {
	tap, err := serial.Open(ctx, ports, serial.Options{
		FirstInput: firstInput,
		Logger:     log,
		Idle:       100 * time.Millisecond,
		NewFramer: func(c serial.Config) serial.Framer {
			return modbus.NewRTURecorder(modbus.RTUConfig{Baud: c.Baud, CharBits: c.CharBits()})
		},
	})
	if err != nil {
		return source{}, err
	}
	names := make([]string, firstInput+len(ports))
	copy(names[firstInput:], tap.Ports())
	src := source{
		name: "serial",
		kind: "serial",
		src:  tap,
		idle: func(err error) bool { return errors.Is(err, serial.ErrIdle) },
		stats: func() (packets, drops uint64) {
			for _, s := range tap.Stats() {
				packets += s.Records
				drops += s.Dropped
			}
			return packets, drops
		},
		extra: func() map[string]uint64 {
			m := map[string]uint64{}
			for _, s := range tap.Stats() {
				m["bytes"] += s.Bytes
				m["losses"] += s.Losses
				m["reopens"] += s.Reopens
			}
			return m
		},
	}
	h := modbus.NewRTUHandler(names)
	src.setup = func(e *dissect.Engine) { e.HandleLink(drivers.LinkRTACSerial, h) }
	// The handler runs on the worker's goroutine: its counters are read
	// there too, with the worker's snapshot.
	src.serial = func() map[string]uint64 { return rtuCounters(h) }
	if cfg.Serial.Capture != "" {
		f, err := os.Create(cfg.Serial.Capture)
		if err != nil {
			tap.Close()
			return source{}, fmt.Errorf("serial capture: %w", err)
		}
		w, err := serial.NewCapture(f, tap.Configs())
		if err != nil {
			f.Close()
			tap.Close()
			return source{}, fmt.Errorf("serial capture %s: %w", cfg.Serial.Capture, err)
		}
		src.src = &recordingSource{Source: tap, w: w, f: f, first: firstInput, log: log}
	}
	return src, nil
}

// recordingSource writes every frame of a serial tap into an RTU capture
// before handing it on.
type recordingSource struct {
	drivers.Source
	w     *serial.Capture
	f     *os.File
	first int
	log   *slog.Logger
	err   error
}

func (r *recordingSource) Next(f *drivers.Frame) error {
	err := r.Source.Next(f)
	if err == nil && r.err == nil {
		if r.err = r.w.WriteFrame(f.Input-r.first, f); r.err != nil {
			r.log.Error("writing the serial capture; it stops here", "file", r.f.Name(), "err", r.err)
		}
	}
	if errors.Is(err, serial.ErrIdle) && r.err == nil {
		r.err = r.w.Flush()
	}
	return err
}

func (r *recordingSource) Close() error {
	err := r.Source.Close()
	if ferr := r.w.Flush(); err == nil {
		err = ferr
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}
