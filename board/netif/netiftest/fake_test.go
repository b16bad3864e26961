package netiftest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tapwire/tapwire/board/netif"
)

func TestFakeRecordsCalls(t *testing.T) {
	f := New()
	want := netif.Report{Iface: "eth1", Index: 3, Steps: []netif.Step{{Name: netif.StepPromisc, Changed: true}}}
	f.SetReport("eth1", want)
	f.SetCounters("eth1", netif.Counters{RxPackets: 7})

	r, err := f.Prepare("eth1", netif.Options{KeepAddresses: true, Offloads: []string{"rx-gro"}})
	if err != nil || !reflect.DeepEqual(r, want) {
		t.Errorf("Prepare(eth1) = %+v, %v; want %+v, nil", r, err, want)
	}
	if r, err := f.Prepare("eth2", netif.Options{}); err != nil || r.Iface != "eth2" || r.Changed() {
		t.Errorf("Prepare(eth2) = %+v, %v; want an empty report for eth2", r, err)
	}
	if c, err := f.Counters("eth1"); err != nil || c.RxPackets != 7 {
		t.Errorf("Counters(eth1) = %+v, %v; want RxPackets 7", c, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := f.Watch(ctx, []string{"eth1", "eth2"}); err != nil {
		t.Fatal(err)
	}

	wantCalls := []Call{
		{Method: MethodPrepare, Name: "eth1", Opts: netif.Options{KeepAddresses: true, Offloads: []string{"rx-gro"}}},
		{Method: MethodPrepare, Name: "eth2"},
		{Method: MethodCounters, Name: "eth1"},
		{Method: MethodWatch, Names: []string{"eth1", "eth2"}},
	}
	if got := f.Calls(); !reflect.DeepEqual(got, wantCalls) {
		t.Errorf("Calls() =\n%+v\nwant\n%+v", got, wantCalls)
	}
}

func TestFakeErrors(t *testing.T) {
	errPerm := &netif.Error{Iface: "eth1", Op: "set promiscuous", Err: errors.New("operation not permitted")}
	errAny := errors.New("any")
	tests := []struct {
		name    string
		set     func(f *Fake)
		call    func(f *Fake) error
		wantErr error
	}{
		{
			name:    "prepare for one name",
			set:     func(f *Fake) { f.SetError(MethodPrepare, "eth1", errPerm) },
			call:    func(f *Fake) error { _, err := f.Prepare("eth1", netif.Options{}); return err },
			wantErr: errPerm,
		},
		{
			name: "prepare for another name",
			set:  func(f *Fake) { f.SetError(MethodPrepare, "eth1", errPerm) },
			call: func(f *Fake) error { _, err := f.Prepare("eth2", netif.Options{}); return err },
		},
		{
			name:    "counters for any name",
			set:     func(f *Fake) { f.SetError(MethodCounters, "", errAny) },
			call:    func(f *Fake) error { _, err := f.Counters("eth9"); return err },
			wantErr: errAny,
		},
		{
			name:    "watch when one of its names fails",
			set:     func(f *Fake) { f.SetError(MethodWatch, "eth2", errAny) },
			call:    func(f *Fake) error { _, err := f.Watch(context.Background(), []string{"eth1", "eth2"}); return err },
			wantErr: errAny,
		},
		{
			name: "cleared",
			set: func(f *Fake) {
				f.SetError(MethodPrepare, "eth1", errPerm)
				f.SetError(MethodPrepare, "eth1", nil)
			},
			call: func(f *Fake) error { _, err := f.Prepare("eth1", netif.Options{}); return err },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New()
			tt.set(f)
			if err := tt.call(f); err != tt.wantErr {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if len(f.Calls()) != 1 {
				t.Errorf("calls = %+v, want the one call recorded", f.Calls())
			}
		})
	}
	if got := errPerm.Error(); got != "netif: eth1: set promiscuous: operation not permitted" {
		t.Errorf("error text = %q", got)
	}
}

func next(t *testing.T, ch <-chan netif.LinkEvent) netif.LinkEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("channel closed, want an event")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return netif.LinkEvent{}
}

func TestFakeWatch(t *testing.T) {
	f := New()
	f.Script(
		netif.LinkEvent{Name: "eth1", State: netif.LinkUp},
		netif.LinkEvent{Name: "eth9", State: netif.LinkUp}, // not watched
		netif.LinkEvent{Name: "eth2", State: netif.LinkAbsent},
	)
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := f.Watch(ctx, []string{"eth1", "eth2"})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.Watchers(); n != 1 {
		t.Errorf("Watchers() = %d, want 1", n)
	}
	if n := f.Send(netif.LinkEvent{Name: "eth1", State: netif.LinkDown}); n != 1 {
		t.Errorf("Send to eth1 reached %d watchers, want 1", n)
	}
	if n := f.Send(netif.LinkEvent{Name: "eth3", State: netif.LinkDown}); n != 0 {
		t.Errorf("Send to eth3 reached %d watchers, want 0", n)
	}
	f.Send(netif.LinkEvent{Name: "eth2", State: netif.LinkDown, Appeared: true})

	want := []netif.LinkEvent{
		{Name: "eth1", State: netif.LinkUp},
		{Name: "eth2", State: netif.LinkAbsent},
		{Name: "eth1", State: netif.LinkDown},
		{Name: "eth2", State: netif.LinkDown, Appeared: true},
	}
	for i, w := range want {
		if got := next(t, ch); got != w {
			t.Errorf("event %d = %+v, want %+v", i, got, w)
		}
	}

	cancel()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Errorf("after cancel: event %+v, want the channel closed", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed 5s after cancel")
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Watchers() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := f.Watchers(); n != 0 {
		t.Errorf("Watchers() after cancel = %d, want 0", n)
	}
}

// The daemon's use: prepare each capture interface, report what was refused,
// prepare again when an interface comes back.
func ExampleFake() {
	f := New()
	f.SetReport("eth1", netif.Report{Iface: "eth1", Features: []netif.Feature{
		{Name: "rx-lro", Before: true, After: true, Fixed: true, Err: netif.ErrFixed},
	}})
	f.Script(netif.LinkEvent{Name: "eth1", State: netif.LinkDown, Appeared: true})

	var c netif.Controller = f
	r, _ := c.Prepare("eth1", netif.Options{})
	for _, ft := range r.Refused() {
		fmt.Printf("%s: %s still on: %v\n", r.Iface, ft.Name, ft.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, _ := c.Watch(ctx, []string{"eth1"})
	if ev := <-events; ev.Appeared {
		c.Prepare(ev.Name, netif.Options{})
	}
	fmt.Println(len(f.Calls()), "calls")
	// Output:
	// eth1: rx-lro still on: fixed on by the driver
	// 3 calls
}
