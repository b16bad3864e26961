package main

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/tapwire/tapwire/detect/output"
	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/pcapfile"
)

// loadFrames reads a capture into memory (copies), up to max frames.
func loadFrames(tb testing.TB, path string, max int) []drivers.Frame {
	tb.Helper()
	r, err := pcapfile.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var frames []drivers.Frame
	var f drivers.Frame
	for max <= 0 || len(frames) < max {
		if err := r.Next(&f); err != nil {
			if !errors.Is(err, io.EOF) {
				tb.Fatal(err)
			}
			break
		}
		c := f
		c.Data = append([]byte(nil), f.Data...)
		frames = append(frames, c)
	}
	return frames
}

func newTestPipeline(tb testing.TB, emit output.Emit) *pipeline {
	tb.Helper()
	cfg := defaultConfig()
	out := output.NewWriter(io.Discard, emit, "", "")
	p, err := newPipeline(cfg, out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestPipelineAllocs proves the whole pipeline (layers 2–4, flows, TCP
// framing, Modbus, inventory, rules, output) allocates nothing per packet in
// steady state. The capture is played once to meet its hosts, flows and
// exception pairs, then again an hour and two hours later (its connections
// closed and expired by then, so the replay opens new ones on the same
// hosts): the last replay, all of its packets, must cost 0 allocations.
func TestPipelineAllocs(t *testing.T) {
	frames := loadFrames(t, capture(t, "clean.pcap"), 0)
	shifted := func(d int64) []drivers.Frame {
		fs := append([]drivers.Frame(nil), frames...)
		for i := range fs {
			fs[i].TS += d
		}
		return fs
	}
	for _, emit := range []output.Emit{output.EmitAlert | output.EmitStats, output.EmitAll} {
		t.Run(emit.String(), func(t *testing.T) {
			p := newTestPipeline(t, emit)
			defer p.close(nil, nil)
			for i := range frames {
				p.eng.Packet(&frames[i])
			}
			// AllocsPerRun calls the function once to warm up, then once
			// measured.
			plays := [][]drivers.Frame{shifted(3600e9), shifted(7200e9)}
			run := 0
			allocs := testing.AllocsPerRun(1, func() {
				play := plays[run]
				run++
				for i := range play {
					p.eng.Packet(&play[i])
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations over %d packets in steady state, want 0", allocs, len(frames))
			}
			if st := p.eng.Stats(); st.FlowsExpired == 0 || st.PDUs[1] < 3*1300 {
				t.Errorf("the replays did not run as planned: %+v", st)
			}
		})
	}
}

// BenchmarkPipeline runs the whole pipeline over a capture held in memory:
// ns/op is per packet. BENCH_PCAP names the capture (make bench generates a
// 2M-packet one); without it, the committed clean capture is used.
func BenchmarkPipeline(b *testing.B) {
	path := os.Getenv("BENCH_PCAP")
	max := 500_000
	if path == "" {
		path = testdataCapture(b, "clean.pcap")
	}
	frames := loadFrames(b, path, max)
	var bytes int64
	for i := range frames {
		bytes += int64(len(frames[i].Data))
	}
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for done < b.N {
		b.StopTimer()
		p := newTestPipeline(b, output.EmitAlert|output.EmitStats)
		b.StartTimer()
		for i := range frames {
			p.eng.Packet(&frames[i])
			done++
			if done == b.N {
				break
			}
		}
		b.StopTimer()
		p.close(nil, nil)
		b.StartTimer()
	}
	b.SetBytes(bytes / int64(len(frames)))
}
