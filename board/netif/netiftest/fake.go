// Package netiftest provides a fake netif.Controller for other packages'
// unit tests: it records every call, returns the reports, counters and
// errors a test sets, and delivers the link events a test scripts or sends.
// It touches no kernel and builds everywhere.
package netiftest

import (
	"context"
	"slices"
	"sync"

	"github.com/tapwire/tapwire/board/netif"
)

// Methods named in Calls and SetError.
const (
	MethodPrepare  = "Prepare"
	MethodWatch    = "Watch"
	MethodCounters = "Counters"
)

// Call is one recorded call.
type Call struct {
	Method string        // MethodPrepare, MethodWatch or MethodCounters
	Name   string        // the interface, for Prepare and Counters
	Names  []string      // the interfaces, for Watch
	Opts   netif.Options // for Prepare
}

// Fake is a netif.Controller for tests. The zero value is not ready: use
// New. All methods are safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	calls    []Call
	reports  map[string]netif.Report
	counters map[string]netif.Counters
	errs     map[string]error // method + "\x00" + name ("" for any name)
	script   []netif.LinkEvent
	watchers map[*watcher]struct{}
}

var _ netif.Controller = (*Fake)(nil)

// New returns a Fake with nothing set: Prepare reports nothing changed,
// Counters are zero, Watch delivers nothing until Script or Send.
func New() *Fake {
	return &Fake{
		reports:  make(map[string]netif.Report),
		counters: make(map[string]netif.Counters),
		errs:     make(map[string]error),
		watchers: make(map[*watcher]struct{}),
	}
}

// SetReport sets the Report Prepare returns for the interface.
func (f *Fake) SetReport(name string, r netif.Report) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports[name] = r
}

// SetCounters sets what Counters returns for the interface.
func (f *Fake) SetCounters(name string, c netif.Counters) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counters[name] = c
}

// SetError makes the method fail with err for the interface (for Watch: when
// any of its names is it), or for every interface when name is "". A nil err
// clears it. The error is returned as given: wrap it in a *netif.Error to
// look like the real controller.
func (f *Fake) SetError(method, name string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := method + "\x00" + name
	if err == nil {
		delete(f.errs, key)
		return
	}
	f.errs[key] = err
}

// Script queues events that every later Watch delivers first, in order,
// those whose Name it watches.
func (f *Fake) Script(events ...netif.LinkEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = append(f.script, events...)
}

// Send delivers ev to every running Watch that watches ev.Name, after what
// they have not delivered yet, and returns how many will deliver it. It does
// not block.
func (f *Fake) Send(ev netif.LinkEvent) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for w := range f.watchers {
		if w.push(ev) {
			n++
		}
	}
	return n
}

// Watchers returns how many Watch calls are running (their ctx not done).
func (f *Fake) Watchers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watchers)
}

// Calls returns the calls so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Call, len(f.calls))
	for i, c := range f.calls {
		c.Names = slices.Clone(c.Names)
		c.Opts.Offloads = slices.Clone(c.Opts.Offloads)
		out[i] = c
	}
	return out
}

func (f *Fake) errFor(method string, names ...string) error {
	for _, n := range names {
		if err, ok := f.errs[method+"\x00"+n]; ok {
			return err
		}
	}
	return f.errs[method+"\x00"]
}

// Prepare records the call and returns the Report set for the interface
// (Report{Iface: name} if none) and the error set for it.
func (f *Fake) Prepare(name string, opts netif.Options) (netif.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	opts.Offloads = slices.Clone(opts.Offloads)
	f.calls = append(f.calls, Call{Method: MethodPrepare, Name: name, Opts: opts})
	r, ok := f.reports[name]
	if !ok {
		r = netif.Report{Iface: name}
	}
	return r, f.errFor(MethodPrepare, name)
}

// Counters records the call and returns the counters and error set for the
// interface.
func (f *Fake) Counters(name string) (netif.Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: MethodCounters, Name: name})
	if err := f.errFor(MethodCounters, name); err != nil {
		return netif.Counters{}, err
	}
	return f.counters[name], nil
}

// Watch records the call and, unless an error is set, returns a channel
// that delivers the scripted events for names, then those sent, until ctx
// ends; then it is closed.
func (f *Fake) Watch(ctx context.Context, names []string) (<-chan netif.LinkEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: MethodWatch, Names: slices.Clone(names)})
	if err := f.errFor(MethodWatch, names...); err != nil {
		return nil, err
	}
	w := &watcher{names: slices.Clone(names), wake: make(chan struct{}, 1)}
	for _, ev := range f.script {
		w.push(ev)
	}
	f.watchers[w] = struct{}{}
	out := make(chan netif.LinkEvent)
	go func() {
		defer close(out)
		defer func() {
			f.mu.Lock()
			delete(f.watchers, w)
			f.mu.Unlock()
		}()
		for {
			ev, ok := w.pop()
			if !ok {
				select {
				case <-ctx.Done():
					return
				case <-w.wake:
				}
				continue
			}
			select {
			case <-ctx.Done():
				return
			case out <- ev:
			}
		}
	}()
	return out, nil
}

// watcher is one running Watch with its own queue, so that Send never
// blocks on a slow reader.
type watcher struct {
	names []string
	mu    sync.Mutex
	queue []netif.LinkEvent
	wake  chan struct{}
}

func (w *watcher) push(ev netif.LinkEvent) bool {
	if !slices.Contains(w.names, ev.Name) {
		return false
	}
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true
}

func (w *watcher) pop() (netif.LinkEvent, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return netif.LinkEvent{}, false
	}
	ev := w.queue[0]
	w.queue = w.queue[1:]
	return ev, true
}
