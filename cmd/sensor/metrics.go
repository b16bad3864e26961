package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tapwire/tapwire/detect/output"
	"github.com/tapwire/tapwire/dissect"
)

// metrics serves the counters of the last stats record in the Prometheus
// text exposition format (version 0.0.4) at /metrics. The format is a few
// lines of text per counter; a client library would add more than it saves.
type metrics struct {
	srv  *http.Server
	mu   sync.Mutex
	body []byte
}

func serveMetrics(addr string, log *slog.Logger) (*metrics, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	m := &metrics{}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		body := m.body
		m.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(body)
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return m, nil
}

func (m *metrics) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m.srv.Shutdown(ctx)
}

// update renders s (called on the detector's goroutine with each stats
// record).
func (m *metrics) update(s *output.Stats) {
	var b strings.Builder
	counter := func(name, help string, v uint64, labels ...string) {
		fmt.Fprintf(&b, "# HELP tapwire_%s %s\n# TYPE tapwire_%s counter\n", name, help, name)
		fmt.Fprintf(&b, "tapwire_%s%s %d\n", name, labelSet(labels), v)
	}
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(&b, "# HELP tapwire_%s %s\n# TYPE tapwire_%s gauge\n", name, help, name)
		fmt.Fprintf(&b, "tapwire_%s %d\n", name, v)
	}
	d := &s.Dissect
	counter("packets_total", "Frames processed.", d.Packets)
	counter("bytes_total", "Bytes on the wire of the frames processed.", d.Bytes)
	fmt.Fprintf(&b, "# HELP tapwire_input_packets_total Frames delivered by each input.\n# TYPE tapwire_input_packets_total counter\n")
	inputs := append([]output.InputStats(nil), s.Inputs...)
	sort.Slice(inputs, func(i, j int) bool { return inputs[i].Name < inputs[j].Name })
	for _, in := range inputs {
		fmt.Fprintf(&b, "tapwire_input_packets_total%s %d\n", labelSet([]string{"input", in.Name}), in.Packets)
	}
	fmt.Fprintf(&b, "# HELP tapwire_input_drops_total Frames lost before the sensor saw them (kernel ring drops).\n# TYPE tapwire_input_drops_total counter\n")
	for _, in := range inputs {
		fmt.Fprintf(&b, "tapwire_input_drops_total%s %d\n", labelSet([]string{"input", in.Name}), in.Drops)
	}
	fmt.Fprintf(&b, "# HELP tapwire_events_total Application PDUs per protocol.\n# TYPE tapwire_events_total counter\n")
	for p := 1; p < dissect.NumProtos; p++ {
		fmt.Fprintf(&b, "tapwire_events_total%s %d\n", labelSet([]string{"proto", dissect.Proto(p).String()}), s.Events[p])
	}
	var pduErr uint64
	for _, n := range d.PDUErrors {
		pduErr += n
	}
	counter("decode_errors_total", "Malformed frames and PDUs.", d.DecodeErrors+pduErr)
	counter("tcp_gaps_total", "TCP holes declared lost.", d.TCPGaps)
	counter("tcp_lost_bytes_total", "Bytes in TCP holes.", d.TCPLostBytes)
	counter("flows_created_total", "Flows created.", d.FlowsCreated)
	counter("flows_evicted_total", "Flows evicted because the table was full.", d.FlowsEvicted)
	gauge("flows_active", "Flows in the table.", int64(d.FlowsActive))
	gauge("assets", "Assets in the inventory.", int64(s.Assets))
	gauge("alerts", "Alerts raised.", int64(s.Alerts))
	counter("records_dropped_total", "Records lost to an output write error.", s.Dropped)
	fmt.Fprintf(&b, "# HELP tapwire_last_packet_time_seconds Packet time of the last packet.\n# TYPE tapwire_last_packet_time_seconds gauge\n")
	fmt.Fprintf(&b, "tapwire_last_packet_time_seconds %.9f\n", float64(s.TS)/1e9)
	m.mu.Lock()
	m.body = []byte(b.String())
	m.mu.Unlock()
}

func labelSet(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(kv[i+1])
		fmt.Fprintf(&b, `%s="%s"`, kv[i], v)
	}
	b.WriteByte('}')
	return b.String()
}
