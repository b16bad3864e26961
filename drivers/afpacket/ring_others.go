//go:build !linux

package afpacket

import (
	"fmt"
	"runtime"

	"github.com/tapwire/tapwire/drivers"
)

// Ring is a live capture through an AF_PACKET ring; it exists only on
// Linux. Elsewhere Open fails and a Ring cannot be had.
type Ring struct{}

var _ drivers.Source = (*Ring)(nil)

var errUnsupported = fmt.Errorf("afpacket: not supported on %s", runtime.GOOS)

// Open fails: AF_PACKET rings exist only on Linux.
func Open(cfg Config) (*Ring, error) {
	if _, err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	return nil, errUnsupported
}

// Next fails: AF_PACKET rings exist only on Linux.
func (r *Ring) Next(f *drivers.Frame) error { return errUnsupported }

// Stats returns zero counters.
func (r *Ring) Stats() Stats { return Stats{} }

// Close does nothing.
func (r *Ring) Close() error { return nil }
