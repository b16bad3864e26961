package modbus

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tapwire/tapwire/dissect"
)

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestContract(t *testing.T) {
	d := New()
	if d.Proto() != dissect.ProtoModbus {
		t.Errorf("Proto = %v", d.Proto())
	}
	if p := d.Ports(); len(p) != 1 || p[0] != 502 {
		t.Errorf("Ports = %v", p)
	}
	if d.MaxPDU() != 260 {
		t.Errorf("MaxPDU = %d", d.MaxPDU())
	}
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"request", reqReadHoldingRegisters, true},
		{"response", respReadHoldingRegisters, true},
		{"pipelined requests", cat(reqReadHoldingRegisters, reqWriteMultipleRegisters, reqReadDeviceID), true},
		{"exception", exception(reqReadCoils, 2), true},
		{"last adu cut after its function code", cat(reqReadHoldingRegisters, reqWriteMultipleRegisters[:8]), true},
		{"last adu cut inside its header", cat(reqReadHoldingRegisters, reqWriteMultipleRegisters[:3]), true},
		{"first adu cut after its function code", reqWriteMultipleRegisters[:9], true},
		{"first adu cut inside its header", reqWriteMultipleRegisters[:7], false},
		{"user defined function", reqUserDefined, true},
		{"empty", nil, false},
		{"protocol id 1", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x01, // protocol id: 1
			0x00, 0x06, // length: 6
			0x01,       // unit: 1
			0x03,       // function: read_holding_registers
			0x00, 0x6b, // starting address: 107
			0x00, 0x03, // quantity: 3
		}, false},
		{"length field 1", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x00, // protocol id: 0
			0x00, 0x01, // length: 1
			0x01, // unit: 1
			0x03, // function: read_holding_registers
		}, false},
		{"length field 255", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x00, // protocol id: 0
			0x00, 0xff, // length: 255
			0x01, // unit: 1
			0x03, // function: read_holding_registers
		}, false},
		{"function code 0", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x00, // protocol id: 0
			0x00, 0x02, // length: 2
			0x01, // unit: 1
			0x00, // function: 0
		}, false},
		{"function code 0x80", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x00, // protocol id: 0
			0x00, 0x03, // length: 3
			0x01, // unit: 1
			0x80, // function: exception of 0
			0x01, // exception code: 1
		}, false},
		{"exception with length 4", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x00, // protocol id: 0
			0x00, 0x04, // length: 4
			0x01,       // unit: 1
			0x83,       // function: read_holding_registers exception
			0x02, 0x00, // exception code and a stray byte
		}, false},
		{"second adu bad", cat(reqReadHoldingRegisters, []byte{
			0x00, 0x02, // transaction id: 2
			0x12, 0x34, // protocol id: 0x1234
			0x00, 0x06, // length: 6
		}), false},
		{"http", []byte("GET / HTTP/1.1\r\nHost: plc\r\n\r\n"), false},
		{"tls client hello", []byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03}, false},
		{"zeros", make([]byte, 16), false},
	}
	d := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Probe(tt.b); got != tt.want {
				t.Errorf("Probe = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFrame(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want int
		err  error
	}{
		{"empty", nil, 0, nil},
		{"five bytes", reqReadHoldingRegisters[:5], 0, nil},
		{"header only", reqReadHoldingRegisters[:6], 12, nil},
		{"request", reqReadHoldingRegisters, 12, nil},
		{"request and more", cat(reqReadHoldingRegisters, reqReadCoils), 12, nil},
		{"largest", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x00, // protocol id: 0
			0x00, 0xfe, // length: 254
		}, 260, nil},
		{"protocol id 2", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x02, // protocol id: 2
			0x00, 0x06, // length: 6
		}, 0, dissect.ErrMalformed},
		{"length 1", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x00, // protocol id: 0
			0x00, 0x01, // length: 1
		}, 0, dissect.ErrMalformed},
		{"length 255", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x00, // protocol id: 0
			0x00, 0xff, // length: 255
		}, 0, dissect.ErrMalformed},
	}
	d := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := d.Frame(tt.b)
			if n != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("Frame = %d, %v; want %d, %v", n, err, tt.want, tt.err)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		adu  []byte
		want dissect.Dir
	}{
		{"read_coils request", reqReadCoils, dissect.DirRequest},
		// Byte count 3 and 3 bytes of coils also read as address 0x03cd,
		// quantity 0x6b05, which is above 2000.
		{"read_coils response", respReadCoils, dissect.DirResponse},
		{"read_coils ambiguous", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x00, // protocol id: 0
			0x00, 0x06, // length: 6
			0x01,       // unit: 1
			0x01,       // function: read_coils
			0x03, 0x00, // address 768, or byte count 3 and coils 0x00…
			0x00, 0x10, // … quantity 16, or coils 0x00 0x10
		}, dissect.DirUnknown},
		{"read_holding_registers request", reqReadHoldingRegisters, dissect.DirRequest},
		{"read_holding_registers response", respReadHoldingRegisters, dissect.DirResponse},
		{"read_input_registers response", respReadInputRegisters, dissect.DirResponse},
		{"write_single_coil echo", reqWriteSingleCoil, dissect.DirUnknown},
		{"write_single_register echo", reqWriteSingleRegister, dissect.DirUnknown},
		{"diagnostics echo", reqDiagnosticsQuery, dissect.DirUnknown},
		{"read_exception_status request", reqReadExceptionStatus, dissect.DirRequest},
		{"read_exception_status response", respReadExceptionStatus, dissect.DirResponse},
		{"write_multiple_coils request", reqWriteMultipleCoils, dissect.DirRequest},
		{"write_multiple_coils response", respWriteMultipleCoils, dissect.DirResponse},
		{"write_multiple_registers request", reqWriteMultipleRegisters, dissect.DirRequest},
		{"write_multiple_registers response", respWriteMultipleRegisters, dissect.DirResponse},
		{"report_server_id response", respReportServerIDText, dissect.DirResponse},
		{"read_file_record request", reqReadFileRecord, dissect.DirRequest},
		{"read_file_record response", respReadFileRecord, dissect.DirResponse},
		{"write_file_record echo", reqWriteFileRecord, dissect.DirUnknown},
		{"mask_write_register echo", reqMaskWriteRegister, dissect.DirUnknown},
		{"read_write_multiple_registers request", reqReadWriteMultipleRegisters, dissect.DirRequest},
		{"read_write_multiple_registers response", respReadWriteMultipleRegisters, dissect.DirResponse},
		{"read_fifo_queue request", reqReadFIFOQueue, dissect.DirRequest},
		{"read_fifo_queue response", respReadFIFOQueue, dissect.DirResponse},
		{"read_device_identification request", reqReadDeviceID, dissect.DirRequest},
		{"read_device_identification response", respReadDeviceID, dissect.DirResponse},
		{"canopen", reqCANopen, dissect.DirUnknown},
		{"user defined", reqUserDefined, dissect.DirUnknown},
		{"exception", exception(reqWriteSingleCoil, 2), dissect.DirResponse},
		{"short", reqReadCoils[:7], dissect.DirUnknown},
		{"bad header", []byte{
			0x00, 0x01, // transaction id: 1
			0x00, 0x09, // protocol id: 9
			0x00, 0x06, // length: 6
			0x01,       // unit: 1
			0x03,       // function: read_holding_registers
			0x00, 0x6b, // starting address: 107
			0x00, 0x03, // quantity: 3
		}, dissect.DirUnknown},
	}
	d := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Classify(tt.adu); got != tt.want {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPairKey(t *testing.T) {
	d := New()
	adu := append([]byte(nil), reqReadHoldingRegisters...)
	adu[0], adu[1] = 0xbe, 0xef // transaction id: 0xbeef
	if k, ok := d.PairKey(adu); !ok || k != 0xbeef {
		t.Errorf("PairKey = %#x, %v; want 0xbeef, true", k, ok)
	}
	if _, ok := d.PairKey(adu[:6]); ok {
		t.Error("PairKey of a cut header is ok")
	}
	adu[3] = 1 // protocol id: 1
	if _, ok := d.PairKey(adu); ok {
		t.Error("PairKey with protocol id 1 is ok")
	}
}

// withTID returns a copy of adu with transaction id tid.
func withTID(adu []byte, tid uint16) []byte {
	b := append([]byte(nil), adu...)
	b[0], b[1] = byte(tid>>8), byte(tid)
	return b
}

func TestPairing(t *testing.T) {
	t.Run("pipelined responses out of order", func(t *testing.T) {
		h := newHarness(t)
		h.decode(req, withTID(reqReadHoldingRegisters, 10))
		h.decode(req, withTID(reqReadInputRegisters, 11))
		e, _ := h.decode(resp, withTID(respReadInputRegisters, 11))
		if got, want := detailJSON(e), `{"unit":1,"transaction_id":11,"address":8,"quantity":1,"byte_count":2}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		e, _ = h.decode(resp, withTID(respReadHoldingRegisters, 10))
		if got, want := detailJSON(e), `{"unit":1,"transaction_id":10,"address":107,"quantity":3,"byte_count":6}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		// A second response to the same request is unmatched.
		e, _ = h.decode(resp, withTID(respReadHoldingRegisters, 10))
		if d := e.Detail.(*Details); !d.Unmatched() {
			t.Errorf("repeated response matched: %s", detailJSON(e))
		}
	})
	t.Run("oldest request forgotten", func(t *testing.T) {
		h := newHarness(t)
		for tid := uint16(1); tid <= pairsPerFlow+1; tid++ {
			h.decode(req, withTID(reqReadHoldingRegisters, tid))
		}
		e, _ := h.decode(resp, withTID(respReadHoldingRegisters, 1))
		if !e.Detail.(*Details).Unmatched() {
			t.Error("response to the oldest request matched")
		}
		for tid := uint16(2); tid <= pairsPerFlow+1; tid++ {
			e, _ := h.decode(resp, withTID(respReadHoldingRegisters, tid))
			if e.Detail.(*Details).Unmatched() {
				t.Errorf("response %d unmatched", tid)
			}
		}
		if s := h.d.Stats(); s.Unmatched != 1 || s.Requests != pairsPerFlow+1 || s.Responses != pairsPerFlow+1 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("retransmitted request replaced", func(t *testing.T) {
		h := newHarness(t)
		h.decode(req, reqReadHoldingRegisters)
		h.decode(req, reqReadCoils) // same transaction id 1
		e, _ := h.decode(resp, respReadHoldingRegisters)
		if !e.Detail.(*Details).Unmatched() {
			t.Error("response matched a replaced request")
		}
	})
	t.Run("new flow in the slot", func(t *testing.T) {
		h := newHarness(t)
		h.decode(req, reqReadHoldingRegisters)
		h.c.FlowID++
		e, _ := h.decode(resp, respReadHoldingRegisters)
		if !e.Detail.(*Details).Unmatched() {
			t.Error("response matched a request of the slot's previous flow")
		}
	})
	t.Run("flows apart", func(t *testing.T) {
		h := newHarness(t)
		h.decode(req, reqReadHoldingRegisters)
		h.c.FlowSlot, h.c.FlowID = 1000, 7
		h.decode(req, reqReadCoils)
		h.c.FlowSlot, h.c.FlowID = testFlowSlot, testFlowID
		e, _ := h.decode(resp, respReadHoldingRegisters)
		if e.Detail.(*Details).Unmatched() {
			t.Error("request lost to another flow")
		}
	})
	t.Run("no flow slot", func(t *testing.T) {
		h := newHarness(t)
		h.c.FlowSlot = -1
		h.decode(req, reqReadHoldingRegisters)
		e, _ := h.decode(resp, respReadHoldingRegisters)
		if got, want := detailJSON(e), `{"unit":1,"transaction_id":1,"byte_count":6}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

// TestDecodePDU decodes Modbus RTU PDUs paired by unit and function code.
func TestDecodePDU(t *testing.T) {
	h := newHarness(t)
	h.c.Transport = dissect.TransportRTU
	const unit = 17
	key := uint32(unit)<<8 | fcReadHoldingRegisters
	e, err := h.decodePDU(req, unit, key, false, 0, reqReadHoldingRegisters[7:])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := detailJSON(e), `{"unit":17,"address":107,"quantity":3}`; got != want {
		t.Errorf("request: got %s, want %s", got, want)
	}
	e, err = h.decodePDU(resp, unit, key, false, 0, respReadHoldingRegisters[7:])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := detailJSON(e), `{"unit":17,"address":107,"quantity":3,"byte_count":6}`; got != want {
		t.Errorf("response: got %s, want %s", got, want)
	}
	h.decodePDU(req, unit, key, false, 0, reqReadHoldingRegisters[7:])
	e, _ = h.decodePDU(resp, unit, key, false, 0, []byte{0x83, 0x02})
	if got, want := detailJSON(e), `{"unit":17,"address":107,"quantity":3,"exception_code":2}`; got != want || e.Error != "illegal_data_address" {
		t.Errorf("exception: got %s %q, want %s", got, e.Error, want)
	}
	if _, err := h.decodePDU(req, unit, key, false, 0, nil); !errors.Is(err, dissect.ErrTruncated) {
		t.Errorf("empty PDU: %v", err)
	}
}

func TestUnknownDirection(t *testing.T) {
	h := newHarness(t)
	e, err := h.decode(dissect.DirUnknown, reqReadHoldingRegisters)
	if err != nil || e.Dir != dissect.DirRequest {
		t.Errorf("read request: dir %v, %v", e.Dir, err)
	}
	e, err = h.decode(dissect.DirUnknown, respReadHoldingRegisters)
	if err != nil || e.Dir != dissect.DirResponse || e.Detail.(*Details).Unmatched() {
		t.Errorf("read response: dir %v, %v, %s", e.Dir, err, detailJSON(e))
	}
	e, err = h.decode(dissect.DirUnknown, reqWriteSingleRegister)
	if err != nil || e.Dir != dissect.DirUnknown || e.Name != "write_single_register" {
		t.Errorf("echo: dir %v name %q, %v", e.Dir, e.Name, err)
	}
	if got, want := detailJSON(e), `{"unit":1,"transaction_id":1,"address":1,"value":3}`; got != want {
		t.Errorf("echo: got %s, want %s", got, want)
	}
}

func TestStats(t *testing.T) {
	h := newHarness(t)
	h.decode(req, reqReadHoldingRegisters)
	h.decode(resp, exception(reqReadHoldingRegisters, 2))
	h.decode(resp, respReadCoils)                        // unmatched
	h.decode(req, reqReadHoldingRegisters[:10])          // truncated
	h.decode(req, exception(reqReadHoldingRegisters, 1)) // malformed
	h.decode(req, reqReadHoldingRegisters[:4])           // truncated, no event
	want := Stats{Requests: 3, Responses: 2, Exceptions: 1, Malformed: 1, Truncated: 2, Unmatched: 1}
	if got := h.d.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

// TestNoAliasing checks that an event keeps nothing of the frame buffer.
func TestNoAliasing(t *testing.T) {
	for _, tt := range decodeCases {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.before != nil {
				h.decode(req, append([]byte(nil), tt.before...))
			}
			buf := append([]byte(nil), tt.adu...)
			e, _ := h.decode(tt.dir, buf)
			det := e.Detail.(*Details)
			json, data := detailJSON(e), append([]byte(nil), det.Data()...)
			for i := range buf {
				buf[i] = 0xaa
			}
			if got := detailJSON(e); got != json {
				t.Errorf("details changed with the frame buffer:\n%s\n%s", json, got)
			}
			if !bytes.Equal(det.Data(), data) {
				t.Errorf("data changed with the frame buffer")
			}
		})
	}
}

func TestGetters(t *testing.T) {
	h := newHarness(t)
	h.decode(req, reqReadDeviceID)
	e, _ := h.decode(resp, respReadDeviceID)
	d := e.Detail.(*Details)
	if d.Unit() != 1 {
		t.Errorf("Unit = %d", d.Unit())
	}
	if tid, ok := d.TransactionID(); tid != 1 || !ok {
		t.Errorf("TransactionID = %d, %v", tid, ok)
	}
	if _, ok := d.Address(); ok {
		t.Error("Address present")
	}
	if m, ok := d.MEIType(); m != 14 || !ok {
		t.Errorf("MEIType = %d, %v", m, ok)
	}
	if c, ok := d.ConformityLevel(); c != 1 || !ok {
		t.Errorf("ConformityLevel = %d, %v", c, ok)
	}
	if more, ok := d.MoreFollows(); more || !ok {
		t.Errorf("MoreFollows = %v, %v", more, ok)
	}
	var got []string
	it := d.Objects()
	for it.Next() {
		got = append(got, ObjectName(it.ID())+"="+string(it.Value()))
	}
	if it.Err() != nil {
		t.Error(it.Err())
	}
	if want := "vendor_name=Company product_code=Product major_minor_revision=V2.11"; join(got) != want {
		t.Errorf("objects %q, want %q", join(got), want)
	}

	h.decode(req, reqDiagnosticsRestart)
	e, _ = h.decode(resp, reqDiagnosticsRestart)
	d = e.Detail.(*Details)
	if s, ok := d.SubFunction(); s != 1 || !ok {
		t.Errorf("SubFunction = %d, %v", s, ok)
	}
	if !bytes.Equal(d.Data(), []byte{0xff, 0x00}) {
		t.Errorf("Data = % x", d.Data())
	}

	h.decode(req, reqReadHoldingRegisters)
	e, _ = h.decode(resp, exception(reqReadHoldingRegisters, 2))
	d = e.Detail.(*Details)
	if c, ok := d.ExceptionCode(); c != 2 || !ok {
		t.Errorf("ExceptionCode = %d, %v", c, ok)
	}
	if a, ok := d.Address(); a != 107 || !ok {
		t.Errorf("Address = %d, %v", a, ok)
	}
	if q, ok := d.Quantity(); q != 3 || !ok {
		t.Errorf("Quantity = %d, %v", q, ok)
	}

	h.decode(req, reqReadWriteMultipleRegisters)
	d = h.b.Events[h.b.Len()-1].Detail.(*Details)
	if a, q, ok := d.WriteRange(); a != 14 || q != 3 || !ok {
		t.Errorf("WriteRange = %d, %d, %v", a, q, ok)
	}
	if !bytes.Equal(d.Data(), []byte{0, 0xff, 0, 0xff, 0, 0xff}) {
		t.Errorf("Data = % x", d.Data())
	}
	e, _ = h.decode(resp, respReportServerIDBinary)
	d = e.Detail.(*Details)
	if on, ok := d.RunIndicator(); !on || !ok || !bytes.Equal(d.ServerID(), []byte{0xb4}) || string(d.Data()) != "LMB" {
		t.Errorf("RunIndicator = %v, %v; ServerID % x; Data %q", on, ok, d.ServerID(), d.Data())
	}
}

func join(s []string) string {
	var b []byte
	for i, x := range s {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, x...)
	}
	return string(b)
}

// TestBatchBoundary checks that a PDU decoded when the batch is full lands,
// with its details and copies, in the next batch.
func TestBatchBoundary(t *testing.T) {
	h := newHarness(t)
	for h.b.Len() < dissect.BatchSize {
		h.decode(req, reqReadDeviceID)
	}
	e, err := h.decode(resp, respReadDeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if h.flushed != 1 || h.b.Len() != 1 || e != &h.b.Events[0] {
		t.Fatalf("flushed %d, batch %d", h.flushed, h.b.Len())
	}
	want := `{"unit":1,"transaction_id":1,"mei_type":14,"read_device_id_code":1,"conformity_level":1,"more_follows":false,"next_object_id":0,` +
		`"objects":[{"id":0,"name":"vendor_name","value":"Company"},{"id":1,"name":"product_code","value":"Product"},{"id":2,"name":"major_minor_revision","value":"V2.11"}]}`
	if got := detailJSON(e); got != want {
		t.Errorf("got %s", got)
	}
}

func TestAppendJSONAppends(t *testing.T) {
	h := newHarness(t)
	e, _ := h.decode(req, reqReadHoldingRegisters)
	got := string(e.Detail.AppendJSON([]byte(`{"modbus":`)))
	if want := `{"modbus":{"unit":1,"transaction_id":1,"address":107,"quantity":3}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestServerIDHex(t *testing.T) {
	b := appendServerID(nil, []byte{'A', 0x01, 0xfe})
	if string(b) != `"4101fe"` {
		t.Errorf("got %s", b)
	}
}
