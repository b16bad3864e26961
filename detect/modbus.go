package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tapwire/tapwire/detect/alert"
	"github.com/tapwire/tapwire/detect/inventory"
	"github.com/tapwire/tapwire/detect/store"
	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/dissect/modbus"
)

// Alert kinds of the Modbus rules (see the package doc).
const (
	KindModbusNewWriter      = "modbus_new_writer"
	KindModbusRestart        = "modbus_restart"
	KindModbusListenOnly     = "modbus_listen_only"
	KindModbusExceptionBurst = "modbus_exception_burst"
)

const keyModbusWriter = "learn/modbus/writer/"

type pair struct{ client, server dissect.Endpoint }

// burst counts a pair's exception responses in a sliding window: a ring of
// the last Threshold exception times.
type burst struct {
	ts   []int64
	head int
	n    int
}

type modbusRules struct {
	writers    map[dissect.Endpoint]int64 // clients seen writing while learning → first write
	newWriters int                        // learned this run (to save)
	bursts     map[pair]*burst
}

func (m *modbusRules) init() {
	m.writers = make(map[dissect.Endpoint]int64)
	m.bursts = make(map[pair]*burst)
}

// identify takes the device identification objects of a 43/14 response into
// the server's asset.
func (m *modbusRules) identify(e *Engine, ev *dissect.Event, server *inventory.Asset) bool {
	if server == nil || !ev.OK || ev.Dir != dissect.DirResponse || ev.Name != "read_device_identification" {
		return false
	}
	d, ok := ev.Detail.(*modbus.Details)
	if !ok {
		return false
	}
	var id inventory.Identity
	var productName, modelName []byte
	for it := d.Objects(); it.Next(); {
		switch it.ID() {
		case 0:
			id.Vendor = it.Value()
		case 1:
			id.Model = it.Value()
		case 2:
			id.Firmware = it.Value()
		case 4:
			productName = it.Value()
		case 5:
			modelName = it.Value()
		}
	}
	if len(id.Model) == 0 {
		id.Model = modelName
	}
	if len(id.Model) == 0 {
		id.Model = productName
	}
	id.By = "modbus.read_device_identification"
	id.Source = unitSource[d.Unit()]
	return e.inv.Identify(server, id)
}

func (m *modbusRules) observe(e *Engine, ev *dissect.Event, dst *inventory.Asset, learning bool) {
	d, _ := ev.Detail.(*modbus.Details)
	switch ev.Dir {
	case dissect.DirRequest:
		client, server := identity(ev.Src), identity(ev.Dst)
		if ev.Op == dissect.OpWrite {
			if learning {
				if _, ok := m.writers[client]; !ok {
					m.writers[client] = ev.TS
					m.newWriters++
				}
			} else if _, ok := m.writers[client]; !ok && e.cfg.Mode != ModeLearn {
				e.raise(alert.Key{Kind: KindModbusNewWriter, Src: client, Dst: server}, ev, 1, func() alert.Spec {
					return alert.Spec{
						Severity: 80, Asset: assetID(dst), Attack: []string{"T0855", "T0836"},
						Summary: fmt.Sprintf("%s wrote to %s (%s) but was not seen writing during learning",
							identityText(client), identityText(server), ev.Name),
					}
				})
			}
		}
		if ev.Func == 8 && d != nil && e.cfg.Mode != ModeLearn {
			sub, ok := d.SubFunction()
			switch {
			case ok && sub == 1:
				e.raise(alert.Key{Kind: KindModbusRestart, Src: client, Dst: server}, ev, 1, func() alert.Spec {
					return alert.Spec{
						Severity: 85, Asset: assetID(dst), Attack: []string{"T0816"},
						Summary: fmt.Sprintf("%s told %s to restart its communications (diagnostics 8/1)",
							identityText(client), identityText(server)),
					}
				})
			case ok && sub == 4:
				e.raise(alert.Key{Kind: KindModbusListenOnly, Src: client, Dst: server}, ev, 1, func() alert.Spec {
					return alert.Spec{
						Severity: 90, Asset: assetID(dst), Attack: []string{"T0814", "T0804"},
						Summary: fmt.Sprintf("%s forced %s into listen-only mode (diagnostics 8/4): it stops answering",
							identityText(client), identityText(server)),
					}
				})
			}
		}
	case dissect.DirResponse:
		if d == nil || e.cfg.Mode == ModeLearn {
			return
		}
		if _, isExc := d.ExceptionCode(); !isExc {
			return
		}
		k := pair{client: identity(ev.Dst), server: identity(ev.Src)}
		b := m.bursts[k]
		if b == nil {
			b = &burst{ts: make([]int64, e.cfg.ExceptionThreshold)}
			m.bursts[k] = b
		}
		b.ts[b.head] = ev.TS
		b.head = (b.head + 1) % len(b.ts)
		if b.n < len(b.ts) {
			b.n++
		}
		// The ring is full and its oldest entry is within the window.
		if b.n < len(b.ts) || ev.TS-b.ts[b.head] > e.cfg.ExceptionWindow {
			return
		}
		srv := e.inv.Lookup(ev.Src)
		key := alert.Key{Kind: KindModbusExceptionBurst, Src: k.client, Dst: k.server}
		n := uint64(1)
		if !e.alerts.Has(key) {
			n = uint64(len(b.ts)) // the whole burst so far
		}
		e.raise(key, ev, n, func() alert.Spec {
			return alert.Spec{
				Severity: 60, Asset: assetID(srv), Attack: []string{"T0846", "T0814"},
				Summary: fmt.Sprintf("%s answered %s with %d or more exception responses within %s: a scan, or a device in distress",
					identityText(k.server), identityText(k.client), len(b.ts), fmtDuration(e.cfg.ExceptionWindow)),
			}
		})
	}
}

// unitSource names identity sources by Modbus unit id without allocating.
var unitSource = func() (s [256]string) {
	for i := range s {
		s[i] = fmt.Sprintf("modbus unit %d", i)
	}
	return s
}()

func assetID(a *inventory.Asset) string {
	if a == nil {
		return ""
	}
	return a.ID
}

func fmtDuration(ns int64) string { return time.Duration(ns).String() }

type writerRecord struct {
	FirstWrite int64 `json:"first_write"`
}

func (m *modbusRules) load(st *store.Store) error {
	return st.Scan(keyModbusWriter, func(key string, v []byte) error {
		ep, err := parseIdentity(strings.TrimPrefix(key, keyModbusWriter))
		if err != nil {
			return err
		}
		var r writerRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("detect: state %s: %w", key, err)
		}
		m.writers[ep] = r.FirstWrite
		return nil
	})
}

func (m *modbusRules) save(w *store.Writer) error {
	for ep, ts := range m.writers {
		w.Put(keyModbusWriter+identityText(ep), marshal(writerRecord{FirstWrite: ts}))
	}
	return nil
}
