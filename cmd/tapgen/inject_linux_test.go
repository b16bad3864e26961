package main

// Real-kernel tests of `tapgen inject`: it sends a generated capture out of
// one end of a veth pair between two network namespaces the test creates,
// and an afpacket.Ring reads the other end. Root only; they skip otherwise
// and under qemu-user.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/afpacket"
	"github.com/tapwire/tapwire/drivers/afpacket/afpackettest"
)

// injectTestFile writes a Modbus/TCP capture of n packets with `tapgen modbus`.
func injectTestFile(t testing.TB, n int) (string, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inject.pcap")
	var out, errb bytes.Buffer
	if code := run([]string{"modbus", "-packets", fmt.Sprint(n), "-o", path}, &out, &errb); code != exitOK {
		t.Fatalf("tapgen modbus: exit %d: %s", code, errb.String())
	}
	frames, other, err := loadFrames(path)
	if err != nil || other != 0 || len(frames) != n {
		t.Fatalf("loadFrames: %d frames, %d skipped, %v", len(frames), other, err)
	}
	return path, frames
}

// ringReader reads a Ring on its own goroutine and keeps a copy of every
// frame, until stopped.
type ringReader struct {
	stop   atomic.Bool
	count  atomic.Int64
	frames [][]byte
	done   chan struct{} // closed when the goroutine has finished
	stats  afpacket.Stats
	err    error
}

func readRing(t testing.TB, v *afpackettest.Veth, keep bool) *ringReader {
	t.Helper()
	var ring *afpacket.Ring
	if err := v.B.Do(func() (err error) {
		ring, err = afpacket.Open(afpacket.Config{Iface: v.IfB, PollTimeout: 10 * time.Millisecond})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rr := &ringReader{done: make(chan struct{})}
	go func() {
		defer close(rr.done)
		var f drivers.Frame
		for !rr.stop.Load() {
			err := ring.Next(&f)
			if errors.Is(err, afpacket.ErrTimeout) {
				continue
			}
			if err != nil {
				rr.err = err
				break
			}
			if keep {
				rr.frames = append(rr.frames, bytes.Clone(f.Data))
			}
			rr.count.Add(1)
		}
		rr.stats = ring.Stats()
		ring.Close()
	}()
	t.Cleanup(func() {
		rr.stop.Store(true)
		<-rr.done
	})
	return rr
}

// finish waits until the reader saw want frames (or a second passed
// without progress) and stops it.
func (rr *ringReader) finish(t testing.TB, want int64) afpacket.Stats {
	t.Helper()
	last, idle := int64(-1), 0
	for rr.count.Load() < want && idle < 100 {
		if c := rr.count.Load(); c != last {
			last, idle = c, 0
		} else {
			idle++
		}
		time.Sleep(10 * time.Millisecond)
	}
	rr.stop.Store(true)
	<-rr.done
	if rr.err != nil {
		t.Errorf("ring: %v", rr.err)
	}
	return rr.stats
}

// TestInject sends a capture at a few rates: the ring on the other end
// receives every frame, in order, with its bytes, and the rate is kept.
func TestInject(t *testing.T) {
	_, frames := injectTestFile(t, 3000)
	for _, rate := range []int{5000, 50000, 0} {
		name := fmt.Sprintf("%d pps", rate)
		if rate == 0 {
			name = "unpaced"
		}
		t.Run(name, func(t *testing.T) {
			v := afpackettest.NewVeth(t)
			rr := readRing(t, v, true)
			var res injectResult
			err := v.A.Do(func() (err error) {
				res, err = inject(context.Background(), injectConfig{iface: v.IfA, rate: rate, loops: 1, batch: 256}, frames)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			st := rr.finish(t, int64(len(frames)))
			t.Logf("sent %d frames in %.3f s: %.0f pps; ring %+v", res.Packets, res.Seconds, res.pps(), st)
			if res.Packets != int64(len(frames)) || res.TooLong != 0 {
				t.Errorf("sent %d frames, skipped %d, want %d", res.Packets, res.TooLong, len(frames))
			}
			if rate > 0 && (res.pps() > 1.1*float64(rate) || res.pps() < 0.25*float64(rate)) {
				t.Errorf("rate %.0f pps, asked %d", res.pps(), rate)
			}
			if len(rr.frames) != len(frames) {
				t.Errorf("the ring received %d frames, want %d (stats %+v)", len(rr.frames), len(frames), st)
			}
			for i := range min(len(rr.frames), len(frames)) {
				if !bytes.Equal(rr.frames[i], frames[i]) {
					t.Fatalf("frame %d received differs from the file's", i)
				}
			}
		})
	}
}

// TestInjectLoop: -loop repeats the file.
func TestInjectLoop(t *testing.T) {
	_, frames := injectTestFile(t, 500)
	v := afpackettest.NewVeth(t)
	rr := readRing(t, v, true)
	var res injectResult
	if err := v.A.Do(func() (err error) {
		res, err = inject(context.Background(), injectConfig{iface: v.IfA, loops: 3, batch: 64}, frames)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rr.finish(t, 3*int64(len(frames)))
	if res.Packets != 1500 || len(rr.frames) != 1500 {
		t.Fatalf("sent %d, received %d, want 1500", res.Packets, len(rr.frames))
	}
	for i, f := range rr.frames {
		if !bytes.Equal(f, frames[i%len(frames)]) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

// TestInjectTooLong: frames longer than the MTU allows are skipped and
// counted.
func TestInjectTooLong(t *testing.T) {
	v := afpackettest.NewVeth(t)
	ok := afpackettest.UDPFrame(afpackettest.Flow{SrcPort: 1, DstPort: 2}, 1, 1514)
	long := afpackettest.UDPFrame(afpackettest.Flow{SrcPort: 1, DstPort: 2}, 2, 1515)
	tagged := afpackettest.Tag(afpackettest.UDPFrame(afpackettest.Flow{SrcPort: 1, DstPort: 2}, 3, 1514), 5)
	rr := readRing(t, v, true)
	var res injectResult
	if err := v.A.Do(func() (err error) {
		res, err = inject(context.Background(), injectConfig{iface: v.IfA, loops: 1, batch: 8}, [][]byte{ok, long, tagged})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rr.finish(t, 2)
	if res.Packets != 2 || res.TooLong != 1 || len(rr.frames) != 2 {
		t.Fatalf("sent %d, skipped %d, received %d; want 2, 1, 2", res.Packets, res.TooLong, len(rr.frames))
	}
}

// TestInjectCLI runs `tapgen inject` as a user would.
func TestInjectCLI(t *testing.T) {
	path, frames := injectTestFile(t, 1000)
	v := afpackettest.NewVeth(t)
	rr := readRing(t, v, false)
	var out, errb bytes.Buffer
	var code int
	v.A.Do(func() error {
		code = run([]string{"inject", "-i", v.IfA, "-rate", "100000", path}, &out, &errb)
		return nil
	})
	rr.finish(t, int64(len(frames)))
	if code != exitOK || !strings.Contains(out.String(), "twa: 1000 packets (") || !strings.Contains(out.String(), "pps") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	if rr.count.Load() != 1000 {
		t.Errorf("the ring received %d frames, want 1000", rr.count.Load())
	}

	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"help", []string{"inject", "-h"}, exitOK, "Usage: tapgen inject"},
		{"no interface", []string{"inject", path}, exitUsage, "-i IFACE is required"},
		{"no file", []string{"inject", "-i", v.IfA}, exitUsage, "one capture file is required"},
		{"bad rate", []string{"inject", "-i", v.IfA, "-rate", "-1", path}, exitUsage, "-rate must not be negative"},
		{"missing file", []string{"inject", "-i", v.IfA, filepath.Join(dir, "none.pcap")}, exitNoInput, "none.pcap"},
		{"no such interface", []string{"inject", "-i", "nosuch0", path}, exitOSErr, "nosuch0: interface: no such device"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			var code int
			v.A.Do(func() error { code = run(tt.args, &out, &errb); return nil })
			if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.out) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tt.code, tt.out, out.String(), errb.String())
			}
		})
	}
}

// BenchmarkInjectVeth measures the injector unpaced on a veth pair with a
// Ring reading the other end; one op is one frame sent. It reports the
// rate sent and the share the ring received:
//
//	go test -run XXX -bench InjectVeth -benchtime 2000000x ./cmd/tapgen
func BenchmarkInjectVeth(b *testing.B) {
	_, frames := injectTestFile(b, 20000)
	v := afpackettest.NewVeth(b)
	rr := readRing(b, v, false)
	loops := (b.N + len(frames) - 1) / len(frames)
	b.ResetTimer()
	var res injectResult
	if err := v.A.Do(func() (err error) {
		res, err = inject(context.Background(), injectConfig{iface: v.IfA, loops: loops, batch: 256}, frames)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := rr.finish(b, res.Packets)
	b.ReportMetric(res.pps(), "sent-pps")
	b.ReportMetric(float64(st.Packets)/float64(res.Packets)*100, "%received")
	b.ReportMetric(float64(st.Drops), "ring-drops")
}
