package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/tapwire/tapwire/detect"
	"github.com/tapwire/tapwire/detect/output"
	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/drivers"
)

// The live pipeline: capture workers, each reading one source (an AF_PACKET
// ring, one member of a fanout group, or the serial tap) into its own
// dissect.Engine, hand full batches to one detection goroutine, which
// consumes them in the order they arrive. Each flow is read by one worker
// (the fanout hash sends both directions of a flow to the same member), so
// the events of a flow stay in order; events of different workers have no
// order between them. A worker keeps two batches: it fills one while the
// detector consumes the other.

// handed is a full batch on its way to the detector, with the channel
// that takes it back to its worker.
type handed struct {
	b    *dissect.Batch
	back chan *dissect.Batch
}

// source is what a worker reads.
type source struct {
	name   string
	kind   string // interface, serial
	src    drivers.Source
	idle   func(error) bool               // an error that only means "nothing to read now"
	stats  func() (packets, drops uint64) // read on the worker's goroutine
	extra  func() map[string]uint64       // more counters for the stats record, or nil
	setup  func(e *dissect.Engine)        // registers link handlers, or nil
	serial func() map[string]uint64       // serial framing counters, or nil
}

type worker struct {
	source
	eng  *dissect.Engine
	out  chan<- handed
	free chan *dissect.Batch
	log  *slog.Logger

	mu   sync.Mutex // guards snap
	snap workerSnap
}

type workerSnap struct {
	dissect dissect.Stats
	lastTS  int64
	packets uint64
	drops   uint64
	extra   map[string]uint64
	serial  map[string]uint64
	err     string
}

// Process is never called: a Context whose sink is an AsyncSink hands its
// batches over with Handoff.
func (w *worker) Process(*dissect.Batch) {
	panic("sensor: live worker: Process called instead of Handoff")
}

// Handoff gives the full batch to the detector and takes back an empty one
// (waiting while the detector holds both).
func (w *worker) Handoff(b *dissect.Batch) *dissect.Batch {
	w.out <- handed{b: b, back: w.free}
	return <-w.free
}

func (w *worker) snapshot(err error) {
	s := workerSnap{dissect: w.eng.Stats(), lastTS: w.eng.LastTS()}
	if w.stats != nil {
		s.packets, s.drops = w.stats()
	}
	if w.extra != nil {
		s.extra = w.extra()
	}
	if w.serial != nil {
		s.serial = w.serial()
	}
	if err != nil {
		s.err = err.Error()
	}
	w.mu.Lock()
	w.snap = s
	w.mu.Unlock()
}

func (w *worker) read() workerSnap {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snap
}

// run reads frames until ctx ends or the source fails, then flushes.
func (w *worker) run(ctx context.Context) {
	var f drivers.Frame
	var runErr error
	last := time.Now()
	for n := 0; ; n++ {
		err := w.src.Next(&f)
		if err == nil {
			w.eng.Packet(&f)
			if n&1023 == 0 {
				if ctx.Err() != nil {
					break
				}
				if time.Since(last) > 500*time.Millisecond {
					w.snapshot(nil)
					last = time.Now()
				}
			}
			continue
		}
		if w.idle != nil && w.idle(err) {
			// Quiet input: hand over what is waiting so that records are
			// written promptly.
			w.eng.Flush()
			w.snapshot(nil)
			last = time.Now()
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if !errors.Is(err, io.EOF) && ctx.Err() == nil {
			runErr = err
			w.log.Error("capture stopped", "input", w.name, "err", err)
		}
		break
	}
	w.eng.Close()
	w.snapshot(runErr)
	if err := w.src.Close(); err != nil {
		w.log.Warn("closing input", "input", w.name, "err", err)
	}
}

// live runs the workers and the detector.
type live struct {
	cfg     *Config
	det     *detect.Engine
	out     *output.Writer
	outFile io.Writer // where out writes (reopened on reload)
	log     *slog.Logger
	workers []*worker
	in      chan handed
	// onStats is called with every stats record written (metrics).
	onStats func(*output.Stats)
	reload  chan func()
	// extra inputs listed in stats (e.g. interface link state).
	inputs func() []output.InputStats
}

func newLive(cfg *Config, det *detect.Engine, out *output.Writer, log *slog.Logger) *live {
	return &live{cfg: cfg, det: det, out: out, log: log, in: make(chan handed, 64), reload: make(chan func())}
}

// add creates a worker for src with its own engine and dissectors.
func (l *live) add(src source) *worker {
	w := &worker{source: src, out: l.in, free: make(chan *dissect.Batch, 1), log: l.log}
	w.free <- dissect.NewBatchSlot(1)
	w.eng = dissect.NewEngine(l.cfg.dissectConfig(), dissectors(), w)
	w.eng.SetLogger(l.log)
	if src.setup != nil {
		src.setup(w.eng)
	}
	l.workers = append(l.workers, w)
	return w
}

// run runs until ctx ends, then stops the workers, drains their batches and
// closes the detector (final alerts, assets, stats, state).
func (l *live) run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, w := range l.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	go func() {
		wg.Wait()
		close(l.in)
	}()
	statsTick := time.NewTicker(time.Duration(l.cfg.Run.StatsInterval))
	defer statsTick.Stop()
	saveTick := time.NewTicker(time.Duration(l.cfg.Run.SaveInterval))
	defer saveTick.Stop()
	for {
		select {
		case h, ok := <-l.in:
			if !ok {
				err := l.det.Close()
				l.writeStats()
				return err
			}
			l.det.Process(h.b)
			h.b.Reset()
			h.back <- h.b
			if len(l.in) == 0 {
				l.out.Flush()
			}
		case <-statsTick.C:
			l.writeStats()
			l.out.Flush()
		case <-saveTick.C:
			if err := l.det.Save(); err != nil {
				l.log.Error("saving state", "err", err)
			}
		case f := <-l.reload:
			f()
		}
	}
}

// onDetector runs f on the detector's goroutine (configuration reload).
func (l *live) onDetector(f func()) {
	done := make(chan struct{})
	l.reload <- func() { f(); close(done) }
	<-done
}

func (l *live) stats() output.Stats {
	ds := l.det.Stats()
	s := output.Stats{
		TS: l.det.LastTS(), Events: ds.Events, Assets: ds.Assets, Alerts: ds.Alerts,
		Mode: ds.Mode.String(), Dropped: l.out.Dropped(),
	}
	if ds.Mode == detect.ModeAuto {
		s.LearnEnd = ds.LearningUntil
	}
	byName := map[string]int{}
	for _, w := range l.workers {
		snap := w.read()
		s.Dissect.Add(snap.dissect)
		if snap.lastTS > s.TS {
			s.TS = snap.lastTS
		}
		i, ok := byName[w.name]
		if !ok {
			i = len(s.Inputs)
			byName[w.name] = i
			s.Inputs = append(s.Inputs, output.InputStats{Name: w.name, Kind: w.kind})
		}
		in := &s.Inputs[i]
		in.Packets += snap.packets
		in.Drops += snap.drops
		if snap.err != "" {
			in.Error = snap.err
		}
		for k, v := range snap.serial {
			if s.Serial == nil {
				s.Serial = map[string]uint64{}
			}
			s.Serial[k] += v
		}
		for k, v := range snap.extra {
			if in.Extra == nil {
				in.Extra = map[string]uint64{}
			}
			in.Extra[k] += v
		}
	}
	if l.inputs != nil {
		for _, x := range l.inputs() {
			if i, ok := byName[x.Name]; ok {
				s.Inputs[i].Link = x.Link
				s.Inputs[i].Refused = x.Refused
				for k, v := range x.Extra {
					if s.Inputs[i].Extra == nil {
						s.Inputs[i].Extra = map[string]uint64{}
					}
					s.Inputs[i].Extra[k] = v
				}
			}
		}
	}
	return s
}

func (l *live) writeStats() {
	s := l.stats()
	l.out.Stats(&s)
	if l.onStats != nil {
		l.onStats(&s)
	}
}
