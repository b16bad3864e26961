package main

import (
	"bytes"
	"testing"
)

// Expected ADUs are written out from the Modbus Application Protocol
// Specification V1.1b3 (request/response layouts of sections 6.x and 7) and
// the MBAP header of the Messaging on TCP/IP Implementation Guide.
func TestEncodeADU(t *testing.T) {
	wagoID := identity{vendor: "WAGO", product: "750-881", revision: "01.09.18", conformity: 0x01}
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{
			name: "read holding registers request",
			got:  appendRequest2(nil, 0x0011, 1, fcReadHoldingRegisters, 1000, 10),
			want: []byte{
				0x00, 0x11, // transaction id: 17
				0x00, 0x00, // protocol id: Modbus
				0x00, 0x06, // length: 6 (unit id + 5 PDU bytes)
				0x01,       // unit id: 1
				0x03,       // function: read holding registers
				0x03, 0xe8, // starting address: 1000
				0x00, 0x0a, // quantity: 10
			},
		},
		{
			name: "write single coil on",
			got:  appendRequest2(nil, 0xfffe, 0xff, fcWriteSingleCoil, 103, coilOn),
			want: []byte{
				0xff, 0xfe, // transaction id: 65534
				0x00, 0x00, // protocol id
				0x00, 0x06, // length: 6
				0xff,       // unit id: 255
				0x05,       // function: write single coil
				0x00, 0x67, // output address: 103
				0xff, 0x00, // output value: ON
			},
		},
		{
			name: "diagnostics force listen only mode",
			got:  appendRequest2(nil, 0x3490, 1, fcDiagnostics, diagForceListenOnly, 0),
			want: []byte{
				0x34, 0x90, // transaction id
				0x00, 0x00, // protocol id
				0x00, 0x06, // length: 6
				0x01,       // unit id
				0x08,       // function: diagnostics
				0x00, 0x04, // sub-function: force listen only mode
				0x00, 0x00, // data
			},
		},
		{
			name: "write multiple coils",
			got:  appendWriteCoils(nil, 2, 1, 0, 16, []byte{0xff, 0x81}),
			want: []byte{
				0x00, 0x02, // transaction id
				0x00, 0x00, // protocol id
				0x00, 0x09, // length: 9
				0x01,       // unit id
				0x0f,       // function: write multiple coils
				0x00, 0x00, // starting address: 0
				0x00, 0x10, // quantity of outputs: 16
				0x02,       // byte count: 2
				0xff, 0x81, // outputs 0-7 on; 8 and 15 on
			},
		},
		{
			name: "write multiple registers",
			got:  appendWriteRegs(nil, 3, 1, 1002, []uint16{0x01f4, 0x0258}),
			want: []byte{
				0x00, 0x03, // transaction id
				0x00, 0x00, // protocol id
				0x00, 0x0b, // length: 11
				0x01,       // unit id
				0x10,       // function: write multiple registers
				0x03, 0xea, // starting address: 1002
				0x00, 0x02, // quantity of registers: 2
				0x04,       // byte count: 4
				0x01, 0xf4, // 500
				0x02, 0x58, // 600
			},
		},
		{
			name: "read/write multiple registers",
			got:  appendReadWriteRegs(nil, 4, 1, 1000, 10, 1005, []uint16{0x03b2, 0x0158}),
			want: []byte{
				0x00, 0x04, // transaction id
				0x00, 0x00, // protocol id
				0x00, 0x0f, // length: 15
				0x01,       // unit id
				0x17,       // function: read/write multiple registers
				0x03, 0xe8, // read starting address: 1000
				0x00, 0x0a, // quantity to read: 10
				0x03, 0xed, // write starting address: 1005
				0x00, 0x02, // quantity to write: 2
				0x04,       // write byte count: 4
				0x03, 0xb2, // 946
				0x01, 0x58, // 344
			},
		},
		{
			name: "read device identification request",
			got:  appendReadDeviceID(nil, 1, 1, readDevIDBasic, objVendorName),
			want: []byte{
				0x00, 0x01, // transaction id
				0x00, 0x00, // protocol id
				0x00, 0x05, // length: 5
				0x01, // unit id
				0x2b, // function: encapsulated interface transport
				0x0e, // MEI type: read device identification
				0x01, // read device id code: basic
				0x00, // object id: vendor name
			},
		},
		{
			name: "read device identification response",
			got:  appendDeviceIDResponse(nil, 1, 1, &wagoID),
			want: cat(
				[]byte{
					0x00, 0x01, // transaction id
					0x00, 0x00, // protocol id
					0x00, 0x21, // length: 33
					0x01, // unit id
					0x2b, // function: encapsulated interface transport
					0x0e, // MEI type: read device identification
					0x01, // read device id code: basic
					0x01, // conformity level: basic, stream access only
					0x00, // more follows: no
					0x00, // next object id
					0x03, // number of objects
				},
				[]byte{0x00, 0x04}, []byte("WAGO"), // object 0: vendor name
				[]byte{0x01, 0x07}, []byte("750-881"), // object 1: product code
				[]byte{0x02, 0x08}, []byte("01.09.18"), // object 2: revision
			),
		},
		{
			name: "exception gateway target failed to respond",
			got:  appendException(nil, 9, 7, fcEncapsulatedInterface, excGatewayTarget),
			want: []byte{
				0x00, 0x09, // transaction id
				0x00, 0x00, // protocol id
				0x00, 0x03, // length: 3
				0x07, // unit id
				0xab, // function: 43 | 0x80
				0x0b, // exception: gateway target device failed to respond
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Equal(tt.got, tt.want) {
				t.Errorf("got  % x\nwant % x", tt.got, tt.want)
			}
		})
	}
}

// TestRespond checks the PLC's answers against the request it echoes or
// reads.
func TestRespond(t *testing.T) {
	g := &gen{seed: 1}
	p, _ := buildPLC(1) // a gateway with units 1..3
	tests := []struct {
		name string
		req  []byte
		exc  uint8
		want []byte // nil: only the header is checked
		info pduInfo
	}{
		{
			name: "write single register echoes",
			req:  appendRequest2(nil, 5, 1, fcWriteSingleRegister, 1001, 555),
			want: appendRequest2(nil, 5, 1, fcWriteSingleRegister, 1001, 555),
			info: pduInfo{tid: 5, unit: 1, fc: 6},
		},
		{
			name: "read back what was written",
			req:  appendRequest2(nil, 6, 1, fcReadHoldingRegisters, 1001, 1),
			want: []byte{
				0x00, 0x06, 0x00, 0x00, 0x00, 0x05, 0x01, // MBAP, length 5
				0x03,       // function
				0x02,       // byte count
				0x02, 0x2b, // 555
			},
			info: pduInfo{tid: 6, unit: 1, fc: 3},
		},
		{
			name: "restart communications echoes",
			req:  appendRequest2(nil, 7, 1, fcDiagnostics, diagRestartComms, 0),
			want: appendRequest2(nil, 7, 1, fcDiagnostics, diagRestartComms, 0),
			info: pduInfo{tid: 7, unit: 1, fc: 8},
		},
		{
			name: "read coils packs bits",
			req:  appendRequest2(nil, 8, 2, fcReadCoils, 0, 10),
			info: pduInfo{tid: 8, unit: 2, fc: 1},
		},
		{
			name: "forced exception",
			req:  appendRequest2(nil, 9, 1, fcReadInputRegisters, 0, 4),
			exc:  excIllegalDataAddress,
			want: appendException(nil, 9, 1, fcReadInputRegisters, excIllegalDataAddress),
			info: pduInfo{tid: 9, unit: 1, fc: 4, exc: 2},
		},
		{
			name: "gateway without a device on the unit",
			req:  appendReadDeviceID(nil, 10, 9, readDevIDBasic, 0),
			want: appendException(nil, 10, 9, fcEncapsulatedInterface, excGatewayTarget),
			info: pduInfo{tid: 10, unit: 9, fc: 43, exc: 0x0b},
		},
		{
			name: "gateway without a path to the unit",
			req:  appendReadDeviceID(nil, 11, 200, readDevIDBasic, 0),
			want: appendException(nil, 11, 200, fcEncapsulatedInterface, excGatewayPath),
			info: pduInfo{tid: 11, unit: 200, fc: 43, exc: 0x0a},
		},
		{
			name: "unknown function",
			req:  appendRequest2(nil, 12, 1, 0x41, 0, 0),
			want: appendException(nil, 12, 1, 0x41, excIllegalFunction),
			info: pduInfo{tid: 12, unit: 1, fc: 0x41, exc: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.respond(nil, &p, tt.req, 1_000_000, tt.exc)
			if tt.want != nil && !bytes.Equal(got, tt.want) {
				t.Errorf("got  % x\nwant % x", got, tt.want)
			}
			if n := int(got[4])<<8 | int(got[5]); n != len(got)-6 {
				t.Errorf("MBAP length %d, ADU has %d bytes after it", n, len(got)-6)
			}
			if in := infoOf(got); in != tt.info {
				t.Errorf("infoOf = %+v, want %+v", in, tt.info)
			}
		})
	}
}

func TestReadCoilsResponseLayout(t *testing.T) {
	g := &gen{seed: 1}
	p, _ := buildPLC(0)
	got := g.respond(nil, &p, appendRequest2(nil, 1, 1, fcReadCoils, 0, 10), 0, 0)
	// 10 coils need 2 bytes; the 6 unused high bits of the last byte are 0.
	if len(got) != 7+2+2 || got[8] != 2 {
		t.Fatalf("response % x: want byte count 2 and 2 status bytes", got)
	}
	if got[10]&0xfc != 0 {
		t.Errorf("unused bits set in last byte %#02x", got[10])
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
