package afpacket

import (
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tapwire/tapwire/drivers"
)

// synthRing is a Ring over synthetic ring memory. Its "socket" is an
// eventfd that never becomes readable, so Next's wait runs for real and
// times out. Works under qemu-user.
func synthRing(tb testing.TB, s *synth, poll time.Duration) *Ring {
	tb.Helper()
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		tb.Fatalf("eventfd: %v", err)
	}
	cfg, err := Config{Iface: "synth0", BlockSize: s.blockSize, NumBlocks: s.numBlocks, PollTimeout: poll, Input: 3}.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	r := &Ring{cfg: cfg, fd: fd, w: newWalker(s.mem, s.blockSize, s.numBlocks, cfg.Input)}
	r.pfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN | unix.POLLERR}
	tb.Cleanup(func() { r.Close() })
	return r
}

// mixedFrames fills a block with frames of 60 to 1514 bytes.
func mixedFrames(blockSize int, small bool) []sframe {
	var out []sframe
	s := &synth{blockSize: blockSize}
	for i := 0; ; i++ {
		n := 60
		if !small {
			n += (i * 97) % 1455
		}
		f := sframe{data: ethFrame(n, byte(i)), sec: 1700000000, nsec: uint32(i)}
		if !s.fits(append(out, f)) {
			return out
		}
		out = append(out, f)
	}
}

// TestNextAllocs proves that Ring.Next allocates nothing, whether it
// delivers frames, crosses blocks or times out.
func TestNextAllocs(t *testing.T) {
	const bs = 64 << 10
	s := newSynth(t, bs, 4)
	tmpl := makeTemplate(t, bs, mixedFrames(bs, false))
	r := synthRing(t, s, time.Millisecond)
	var f drivers.Frame
	n := 0
	allocs := testing.AllocsPerRun(20000, func() {
		s.refill(tmpl)
		if err := r.Next(&f); err != nil {
			t.Fatalf("Next: %v", err)
		}
		n++
	})
	if allocs != 0 {
		t.Errorf("Next allocates %.2f times per frame, want 0", allocs)
	}
	if blocks := n / tmpl.frames; blocks < 8 {
		t.Errorf("only %d blocks crossed", blocks)
	}

	empty := synthRing(t, newSynth(t, bs, 2), time.Millisecond)
	allocs = testing.AllocsPerRun(20, func() {
		if err := empty.Next(&f); !errors.Is(err, ErrTimeout) {
			t.Fatalf("Next on an empty ring: %v, want ErrTimeout", err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %.2f times per timeout, want 0", allocs)
	}
}

func TestNextTimeout(t *testing.T) {
	s := newSynth(t, 4096, 2)
	r := synthRing(t, s, 30*time.Millisecond)
	var f drivers.Frame
	start := time.Now()
	err := r.Next(&f)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Next: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond || d > 2*time.Second {
		t.Errorf("Next waited %v, want about 30ms", d)
	}
	// A frame published after a timeout is delivered by the next call.
	s.publish(t, 0, 1, true, sframe{data: ethFrame(60, 9), sec: 5})
	if err := r.Next(&f); err != nil || len(f.Data) != 60 || f.Input != 3 {
		t.Fatalf("Next after the timeout: %v, %d bytes, input %d", err, len(f.Data), f.Input)
	}
	st := r.Stats()
	if st.Packets != 1 || st.Bytes != 60 {
		t.Errorf("Stats %+v, want 1 packet of 60 bytes", st)
	}
}

func TestNextClosed(t *testing.T) {
	r := synthRing(t, newSynth(t, 4096, 2), time.Millisecond)
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var f drivers.Frame
	if err := r.Next(&f); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Next after Close: %v, want net.ErrClosed", err)
	}
}

// BenchmarkNext reads frames from a synthetic ring kept full; one op is one
// frame. "small" frames are all 60 bytes (the per-frame cost), "mixed" ones
// 60–1514 bytes. Refilling the ring (the kernel's work) is not timed.
func BenchmarkNext(b *testing.B) {
	const bs = 1 << 20
	for _, kind := range []string{"small", "mixed"} {
		b.Run(kind, func(b *testing.B) {
			frames := mixedFrames(bs, kind == "small")
			s := newSynth(b, bs, 8)
			tmpl := makeTemplate(b, bs, frames)
			r := synthRing(b, s, time.Millisecond)
			s.refill(tmpl)
			b.ReportAllocs()
			var f drivers.Frame
			b.ResetTimer()
			for range b.N {
				if err := r.Next(&f); err != nil {
					b.Fatal(err)
				}
				if r.w.left == 0 {
					// The last frame of a block: give the kernel's blocks
					// back filled, so the next block is ready.
					b.StopTimer()
					s.refill(tmpl)
					b.StartTimer()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/frame")
		})
	}
}
