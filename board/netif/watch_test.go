package netif

import (
	"reflect"
	"testing"
	"time"
)

func TestTracker(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	type in struct {
		msg    linkMsg
		absent string // a snapshot found no link of this name
	}
	tests := []struct {
		name  string
		watch []string
		in    []in
		want  []LinkEvent
	}{
		{
			name:  "first state of each name, then changes only",
			watch: []string{"eth1", "eth2"},
			in: []in{
				{msg: linkMsg{Name: "eth1", Index: 3, Up: true, Carrier: true}},
				{absent: "eth2"},
				{msg: linkMsg{Name: "eth1", Index: 3, Up: true, Carrier: true}}, // MTU, stats…
				{msg: linkMsg{Name: "eth0", Index: 2, Up: true}},                // not watched
				{msg: linkMsg{Name: "eth1", Index: 3, Up: true}},                // carrier lost
				{msg: linkMsg{Name: "eth1", Index: 3}},                          // admin down
				{msg: linkMsg{Name: "eth1", Index: 3, Up: true, Carrier: true}},
				{absent: "eth2"},
			},
			want: []LinkEvent{
				{Name: "eth1", Index: 3, State: LinkUp, AdminUp: true, Carrier: true},
				{Name: "eth2", State: LinkAbsent},
				{Name: "eth1", Index: 3, State: LinkDown, AdminUp: true},
				{Name: "eth1", Index: 3, State: LinkDown},
				{Name: "eth1", Index: 3, State: LinkUp, AdminUp: true, Carrier: true},
			},
		},
		{
			name:  "deleted and back",
			watch: []string{"eth1"},
			in: []in{
				{msg: linkMsg{Name: "eth1", Index: 3, Up: true, Carrier: true}},
				{msg: linkMsg{Name: "eth1", Index: 3}},
				{msg: linkMsg{Name: "eth1", Index: 3, Deleted: true}},
				{msg: linkMsg{Name: "eth1", Index: 3, Deleted: true}}, // told twice
				{absent: "eth1"},
				{msg: linkMsg{Name: "eth1", Index: 9}},
				{msg: linkMsg{Name: "eth1", Index: 9, Up: true, Carrier: true}},
			},
			want: []LinkEvent{
				{Name: "eth1", Index: 3, State: LinkUp, AdminUp: true, Carrier: true},
				{Name: "eth1", Index: 3, State: LinkDown},
				{Name: "eth1", State: LinkAbsent},
				{Name: "eth1", Index: 9, State: LinkDown, Appeared: true},
				{Name: "eth1", Index: 9, State: LinkUp, AdminUp: true, Carrier: true},
			},
		},
		{
			name:  "absent at start, plugged in later",
			watch: []string{"usb0"},
			in: []in{
				{absent: "usb0"},
				{msg: linkMsg{Name: "usb0", Index: 5}},
			},
			want: []LinkEvent{
				{Name: "usb0", State: LinkAbsent},
				{Name: "usb0", Index: 5, State: LinkDown, Appeared: true},
			},
		},
		{
			name:  "replaced under the same name without a deletion seen",
			watch: []string{"eth1"},
			in: []in{
				{msg: linkMsg{Name: "eth1", Index: 3, Up: true, Carrier: true}},
				{msg: linkMsg{Name: "eth1", Index: 4, Up: true, Carrier: true}},
				{msg: linkMsg{Name: "eth1", Index: 3, Deleted: true}}, // the old one, late
			},
			want: []LinkEvent{
				{Name: "eth1", Index: 3, State: LinkUp, AdminUp: true, Carrier: true},
				{Name: "eth1", Index: 4, State: LinkUp, AdminUp: true, Carrier: true, Appeared: true},
			},
		},
		{
			name:  "renamed away and back",
			watch: []string{"eth1"},
			in: []in{
				{msg: linkMsg{Name: "eth1", Index: 3, Up: true, Carrier: true}},
				{msg: linkMsg{Name: "lan7", Index: 3, Up: true, Carrier: true}},
				{msg: linkMsg{Name: "eth1", Index: 3, Up: true, Carrier: true}},
			},
			want: []LinkEvent{
				{Name: "eth1", Index: 3, State: LinkUp, AdminUp: true, Carrier: true},
				{Name: "eth1", State: LinkAbsent},
				{Name: "eth1", Index: 3, State: LinkUp, AdminUp: true, Carrier: true, Appeared: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker(tt.watch)
			var got []LinkEvent
			for _, i := range tt.in {
				if i.absent != "" {
					got = tr.absent(i.absent, now, got)
				} else {
					got = tr.update(i.msg, now, got)
				}
			}
			for i := range tt.want {
				tt.want[i].Time = now
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events:\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestLinkStateString(t *testing.T) {
	tests := []struct {
		s    LinkState
		want string
	}{
		{LinkAbsent, "absent"}, {LinkDown, "down"}, {LinkUp, "up"}, {0, "unknown"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("LinkState(%d).String() = %q, want %q", tt.s, got, tt.want)
		}
	}
}
