package modbus

import (
	"testing"

	"github.com/tapwire/tapwire/dissect"
)

type step struct {
	dir dissect.Dir
	adu []byte
}

// exchanges are request/response pairs of several function codes, with a
// 43/14 identification carrying objects and an exception.
var exchanges = []step{
	{req, reqReadHoldingRegisters}, {resp, respReadHoldingRegisters},
	{req, reqReadCoils}, {resp, respReadCoils},
	{req, reqWriteSingleCoil}, {resp, reqWriteSingleCoil},
	{req, reqWriteMultipleRegisters}, {resp, respWriteMultipleRegisters},
	{req, reqReadWriteMultipleRegisters}, {resp, respReadWriteMultipleRegisters},
	{req, reqDiagnosticsRestart}, {resp, reqDiagnosticsRestart},
	{req, reqReportServerID}, {resp, respReportServerIDText},
	{req, reqReadFileRecord}, {resp, respReadFileRecord},
	{req, reqReadFIFOQueue}, {resp, respReadFIFOQueue},
	{req, reqReadDeviceID}, {resp, respReadDeviceID},
	{req, reqReadInputRegisters}, {resp, exception(reqReadInputRegisters, 2)},
}

// warm runs the exchanges until the batch has been handed on a few times, so
// that the slab, the arena and the pairing tables are fully grown.
func warm(tb testing.TB, h *harness, steps []step) {
	tb.Helper()
	for h.flushed < 3 {
		for _, s := range steps {
			h.setDir(s.dir)
			if err := h.d.Decode(h.c, s.adu); err != nil {
				tb.Fatalf("%s: %v", funcs[s.adu[7]&0x7f].name, err)
			}
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	h := newHarness(t)
	warm(t, h, exchanges)
	var buf []byte
	allocs := testing.AllocsPerRun(500, func() {
		for _, s := range exchanges {
			h.c.Dir = s.dir
			h.d.Decode(h.c, s.adu)
			buf = h.b.Events[h.b.Len()-1].Detail.AppendJSON(buf[:0])
		}
	})
	if allocs != 0 {
		t.Errorf("Decode and AppendJSON: %v allocations per %d PDUs, want 0", allocs, len(exchanges))
	}
}

func TestDecodePDUAllocs(t *testing.T) {
	h := newHarness(t)
	h.c.Transport = dissect.TransportRTU
	pduReq, pduResp := reqReadHoldingRegisters[7:], respReadHoldingRegisters[7:]
	key := uint32(17)<<8 | fcReadHoldingRegisters
	run := func() {
		h.c.Dir = req
		h.d.DecodePDU(h.c, 17, key, false, 0, pduReq)
		h.c.Dir = resp
		h.d.DecodePDU(h.c, 17, key, false, 0, pduResp)
	}
	for h.flushed < 3 {
		run()
	}
	if allocs := testing.AllocsPerRun(500, run); allocs != 0 {
		t.Errorf("DecodePDU: %v allocations, want 0", allocs)
	}
}

func TestRecognitionAllocs(t *testing.T) {
	d := New()
	stream := cat(reqReadHoldingRegisters, reqReadDeviceID, reqWriteMultipleRegisters)
	allocs := testing.AllocsPerRun(500, func() {
		d.Probe(stream)
		d.Frame(stream)
		d.PairKey(stream)
		for _, s := range exchanges {
			d.Classify(s.adu)
		}
	})
	if allocs != 0 {
		t.Errorf("Probe, Frame, PairKey, Classify: %v allocations, want 0", allocs)
	}
}

// TestMalformedAllocs bounds the cost of a malformed PDU: its error value.
func TestMalformedAllocs(t *testing.T) {
	h := newHarness(t)
	bad := exception(reqReadHoldingRegisters, 2) // an exception in a request
	h.c.Dir = req
	for h.flushed < 3 {
		h.d.Decode(h.c, bad)
	}
	if allocs := testing.AllocsPerRun(500, func() { h.d.Decode(h.c, bad) }); allocs > 1 {
		t.Errorf("malformed PDU: %v allocations, want at most 1", allocs)
	}
}

func benchSteps(b *testing.B, steps []step) {
	h := newHarness(b)
	warm(b, h, steps)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range steps {
			h.c.Dir = s.dir
			h.d.Decode(h.c, s.adu)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(steps)), "ns/pdu")
}

func BenchmarkDecode(b *testing.B) {
	b.Run("read_holding_registers", func(b *testing.B) {
		benchSteps(b, []step{{req, reqReadHoldingRegisters}, {resp, respReadHoldingRegisters}})
	})
	b.Run("write_multiple_registers", func(b *testing.B) {
		benchSteps(b, []step{{req, reqWriteMultipleRegisters}, {resp, respWriteMultipleRegisters}})
	})
	b.Run("read_device_identification", func(b *testing.B) {
		benchSteps(b, []step{{req, reqReadDeviceID}, {resp, respReadDeviceID}})
	})
	b.Run("mix", func(b *testing.B) { benchSteps(b, exchanges) })
}

func BenchmarkAppendJSON(b *testing.B) {
	h := newHarness(b)
	h.decode(req, reqReadDeviceID)
	e, _ := h.decode(resp, respReadDeviceID)
	buf := e.Detail.AppendJSON(nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = e.Detail.AppendJSON(buf[:0])
	}
}

func BenchmarkProbe(b *testing.B) {
	d := New()
	stream := cat(reqReadHoldingRegisters, reqReadDeviceID, reqWriteMultipleRegisters)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d.Probe(stream)
	}
}

func BenchmarkClassify(b *testing.B) {
	d := New()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d.Classify(respReadHoldingRegisters)
	}
}
