package netif

import "time"

// linkMsg is one rtnetlink link message, or a snapshot of one link, as the
// tracker needs it.
type linkMsg struct {
	Name    string
	Index   int
	Up      bool // IFF_UP
	Carrier bool // IFF_LOWER_UP
	Deleted bool // RTM_DELLINK
}

// linkStatus is the last state reported for a watched name.
type linkStatus struct {
	reported bool
	present  bool
	index    int
	up       bool
	carrier  bool
}

// tracker turns link messages into LinkEvents for the watched names: it
// reports each name's first state, then only changes, and notices links that
// go away (deleted, renamed, moved to another namespace) and come back. It
// is not safe for concurrent use: Watch's one goroutine owns it.
type tracker struct {
	names   map[string]*linkStatus
	byIndex map[int]string // index → watched name it carries now
}

func newTracker(names []string) *tracker {
	t := &tracker{names: make(map[string]*linkStatus, len(names)), byIndex: make(map[int]string)}
	for _, n := range names {
		t.names[n] = &linkStatus{}
	}
	return t
}

// update applies one message and appends the events it causes to evs.
func (t *tracker) update(m linkMsg, now time.Time, evs []LinkEvent) []LinkEvent {
	// A watched name whose index now carries another name was renamed away
	// (or the message is a deletion of it).
	if old, ok := t.byIndex[m.Index]; ok && (m.Deleted || old != m.Name) {
		delete(t.byIndex, m.Index)
		evs = t.absent(old, now, evs)
	}
	st, watched := t.names[m.Name]
	if !watched || m.Deleted {
		return evs
	}
	appeared := st.reported && (!st.present || st.index != m.Index)
	if st.present && st.index != m.Index {
		delete(t.byIndex, st.index) // replaced under the same name
	}
	if st.reported && !appeared && st.up == m.Up && st.carrier == m.Carrier {
		return evs // a change we do not report (flags, MTU, statistics…)
	}
	*st = linkStatus{reported: true, present: true, index: m.Index, up: m.Up, carrier: m.Carrier}
	t.byIndex[m.Index] = m.Name
	state := LinkDown
	if m.Up && m.Carrier {
		state = LinkUp
	}
	return append(evs, LinkEvent{
		Name: m.Name, Index: m.Index, State: state,
		AdminUp: m.Up, Carrier: m.Carrier, Appeared: appeared, Time: now,
	})
}

// absent records that a snapshot found no link of that name.
func (t *tracker) absent(name string, now time.Time, evs []LinkEvent) []LinkEvent {
	st, ok := t.names[name]
	if !ok || (st.reported && !st.present) {
		return evs
	}
	if st.present {
		delete(t.byIndex, st.index)
	}
	*st = linkStatus{reported: true}
	return append(evs, LinkEvent{Name: name, State: LinkAbsent, Time: now})
}
