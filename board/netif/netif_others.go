//go:build !linux

package netif

import "context"

// New returns a Controller whose methods fail with ErrNotSupported: capture
// interfaces are prepared on Linux only.
func New() Controller { return controller{} }

type controller struct{}

func (controller) Prepare(name string, _ Options) (Report, error) {
	return Report{Iface: name}, ErrNotSupported
}

func (controller) Watch(context.Context, []string) (<-chan LinkEvent, error) {
	return nil, ErrNotSupported
}

func (controller) Counters(string) (Counters, error) { return Counters{}, ErrNotSupported }
