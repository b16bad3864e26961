package afpacket_test

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/tapwire/tapwire/drivers"
	"github.com/tapwire/tapwire/drivers/afpacket"
)

// The reader loop: one goroutine per ring owns it, hands every frame to
// the next stage before asking for the next one, does its periodic work on
// ErrTimeout, and closes the ring itself when told to stop.
func Example() {
	ctx := context.Background()         // cancelled to stop the capture
	packet := func(f *drivers.Frame) {} // e.g. a dissect.Engine's Packet

	ring, err := afpacket.Open(afpacket.Config{Iface: "eth1", Input: 1})
	if err != nil {
		slog.Error("capture", "err", err)
		return
	}
	defer ring.Close()
	var f drivers.Frame
	for ctx.Err() == nil {
		err := ring.Next(&f)
		switch {
		case err == nil:
			packet(&f) // f.Data is valid until the next call to Next
		case errors.Is(err, afpacket.ErrTimeout):
			// Quiet link: flush, report ring.Stats(), check ctx.
		case errors.Is(err, syscall.ENETDOWN):
			// The link went down: reported once, capture resumes when it
			// is back up.
			slog.Warn("capture", "err", err)
		default:
			slog.Error("capture", "err", err)
			return
		}
	}
}
