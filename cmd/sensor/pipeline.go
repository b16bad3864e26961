package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/tapwire/tapwire/detect"
	"github.com/tapwire/tapwire/detect/output"
	"github.com/tapwire/tapwire/detect/store"
	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/modbus"
	"github.com/tapwire/tapwire/drivers"
)

// pipeline is the sensor's data path: frames → dissect.Engine → batches →
// detect.Engine → output.
type pipeline struct {
	st  *store.Store
	det *detect.Engine
	eng *dissect.Engine
	out *output.Writer
}

// dissectors is the set of protocol dissectors, built explicitly, in the
// order flows are offered to them.
func dissectors() []dissect.Dissector {
	return []dissect.Dissector{
		modbus.New(),
	}
}

func newPipeline(cfg *Config, out *output.Writer, log *slog.Logger) (*pipeline, error) {
	st, err := store.Open(cfg.State, log)
	if err != nil {
		if cfg.State != "" {
			return nil, fmt.Errorf("state directory %s: %w", cfg.State, err)
		}
		return nil, err
	}
	det, err := detect.New(cfg.detectConfig(), st, out, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	eng := dissect.NewEngine(cfg.dissectConfig(), dissectors(), det)
	eng.SetLogger(log)
	return &pipeline{st: st, det: det, eng: eng, out: out}, nil
}

// run feeds every frame of src through the pipeline. It returns at the end
// of src (io.EOF) or on an error the source cannot recover from.
func (p *pipeline) run(src drivers.Source) error {
	var f drivers.Frame
	for {
		if err := src.Next(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		p.eng.Packet(&f)
	}
}

// close drains the engines, writes the final records and the stats record,
// saves and closes the state.
func (p *pipeline) close(inputs []output.InputStats, serial map[string]uint64) error {
	p.eng.Close()
	err := p.det.Close()
	ds := p.det.Stats()
	s := output.Stats{
		TS:      p.det.LastTS(),
		Dissect: p.eng.Stats(),
		Events:  ds.Events,
		Assets:  ds.Assets,
		Alerts:  ds.Alerts,
		Inputs:  inputs,
		Mode:    ds.Mode.String(),
		Dropped: p.out.Dropped(),
		Serial:  serial,
	}
	if ds.Mode == detect.ModeAuto {
		s.LearnEnd = ds.LearningUntil
	}
	if lt := p.eng.LastTS(); lt > s.TS {
		s.TS = lt
	}
	p.out.Stats(&s)
	if cerr := p.st.Close(); err == nil {
		err = cerr
	}
	return err
}
