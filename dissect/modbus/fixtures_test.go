package modbus

// ADU fixtures, written from the examples of the Modbus Application Protocol
// Specification V1.1b3 (section 6) wrapped in an MBAP header. Every request
// uses transaction id 1 and unit 1, as do the responses that answer it.

var (
	reqReadCoils = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x01,       // function: read_coils
		0x00, 0x13, // starting address: 19
		0x00, 0x13, // quantity of coils: 19
	}
	respReadCoils = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,             // unit: 1
		0x01,             // function: read_coils
		0x03,             // byte count: 3
		0xcd, 0x6b, 0x05, // coil status 20..38
	}
	reqReadDiscreteInputs = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x02,       // function: read_discrete_inputs
		0x00, 0xc4, // starting address: 196
		0x00, 0x16, // quantity of inputs: 22
	}
	respReadDiscreteInputs = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,             // unit: 1
		0x02,             // function: read_discrete_inputs
		0x03,             // byte count: 3
		0xac, 0xdb, 0x35, // input status 197..218
	}
	reqReadHoldingRegisters = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x03,       // function: read_holding_registers
		0x00, 0x6b, // starting address: 107
		0x00, 0x03, // quantity of registers: 3
	}
	respReadHoldingRegisters = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x09, // length: 9
		0x01,       // unit: 1
		0x03,       // function: read_holding_registers
		0x06,       // byte count: 6
		0x02, 0x2b, // register 108: 555
		0x00, 0x00, // register 109: 0
		0x00, 0x64, // register 110: 100
	}
	reqReadInputRegisters = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x04,       // function: read_input_registers
		0x00, 0x08, // starting address: 8
		0x00, 0x01, // quantity of registers: 1
	}
	respReadInputRegisters = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x05, // length: 5
		0x01,       // unit: 1
		0x04,       // function: read_input_registers
		0x02,       // byte count: 2
		0x00, 0x0a, // register 9: 10
	}
	reqWriteSingleCoil = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x05,       // function: write_single_coil
		0x00, 0xac, // output address: 172
		0xff, 0x00, // output value: on
	}
	reqWriteSingleRegister = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x06,       // function: write_single_register
		0x00, 0x01, // register address: 1
		0x00, 0x03, // register value: 3
	}
	reqReadExceptionStatus = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x02, // length: 2
		0x01, // unit: 1
		0x07, // function: read_exception_status
	}
	respReadExceptionStatus = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x03, // length: 3
		0x01, // unit: 1
		0x07, // function: read_exception_status
		0x6d, // output data
	}
	reqDiagnosticsQuery = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x08,       // function: diagnostics
		0x00, 0x00, // sub-function: return query data
		0xa5, 0x37, // data
	}
	reqDiagnosticsRestart = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x08,       // function: diagnostics
		0x00, 0x01, // sub-function: restart communications option
		0xff, 0x00, // data: clear the event log
	}
	reqDiagnosticsListenOnly = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x08,       // function: diagnostics
		0x00, 0x04, // sub-function: force listen only mode
		0x00, 0x00, // data
	}
	reqGetCommEventCounter = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x02, // length: 2
		0x01, // unit: 1
		0x0b, // function: get_comm_event_counter
	}
	respGetCommEventCounter = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x0b,       // function: get_comm_event_counter
		0xff, 0xff, // status: busy
		0x01, 0x08, // event count: 264
	}
	reqGetCommEventLog = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x02, // length: 2
		0x01, // unit: 1
		0x0c, // function: get_comm_event_log
	}
	respGetCommEventLog = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x0b, // length: 11
		0x01,       // unit: 1
		0x0c,       // function: get_comm_event_log
		0x08,       // byte count: 8
		0x00, 0x00, // status
		0x01, 0x08, // event count: 264
		0x01, 0x21, // message count: 289
		0x20, 0x00, // events
	}
	reqWriteMultipleCoils = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x09, // length: 9
		0x01,       // unit: 1
		0x0f,       // function: write_multiple_coils
		0x00, 0x13, // starting address: 19
		0x00, 0x0a, // quantity of outputs: 10
		0x02,       // byte count: 2
		0xcd, 0x01, // outputs 20..29
	}
	respWriteMultipleCoils = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x0f,       // function: write_multiple_coils
		0x00, 0x13, // starting address: 19
		0x00, 0x0a, // quantity of outputs: 10
	}
	reqWriteMultipleRegisters = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x0b, // length: 11
		0x01,       // unit: 1
		0x10,       // function: write_multiple_registers
		0x00, 0x01, // starting address: 1
		0x00, 0x02, // quantity of registers: 2
		0x04,       // byte count: 4
		0x00, 0x0a, // register 2: 10
		0x01, 0x02, // register 3: 258
	}
	respWriteMultipleRegisters = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x10,       // function: write_multiple_registers
		0x00, 0x01, // starting address: 1
		0x00, 0x02, // quantity of registers: 2
	}
	reqReportServerID = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x02, // length: 2
		0x01, // unit: 1
		0x11, // function: report_server_id
	}
	respReportServerIDText = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x08, // length: 8
		0x01,               // unit: 1
		0x11,               // function: report_server_id
		0x05,               // byte count: 5
		'P', 'L', 'C', '1', // server id: "PLC1"
		0xff, // run indicator: on
	}
	respReportServerIDBinary = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x08, // length: 8
		0x01,          // unit: 1
		0x11,          // function: report_server_id
		0x05,          // byte count: 5
		0xb4,          // server id: 0xb4
		0xff,          // run indicator: on
		'L', 'M', 'B', // additional data
	}
	reqReadFileRecord = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x11, // length: 17
		0x01,       // unit: 1
		0x14,       // function: read_file_record
		0x0e,       // byte count: 14
		0x06,       // sub-request 1: reference type 6
		0x00, 0x04, // file number: 4
		0x00, 0x01, // record number: 1
		0x00, 0x02, // record length: 2
		0x06,       // sub-request 2: reference type 6
		0x00, 0x03, // file number: 3
		0x00, 0x09, // record number: 9
		0x00, 0x02, // record length: 2
	}
	respReadFileRecord = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x0f, // length: 15
		0x01,       // unit: 1
		0x14,       // function: read_file_record
		0x0c,       // response data length: 12
		0x05,       // sub-response 1: file response length 5
		0x06,       // reference type 6
		0x0d, 0xfe, // record data
		0x00, 0x20,
		0x05,       // sub-response 2: file response length 5
		0x06,       // reference type 6
		0x33, 0xcd, // record data
		0x00, 0x40,
	}
	reqWriteFileRecord = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x10, // length: 16
		0x01,       // unit: 1
		0x15,       // function: write_file_record
		0x0d,       // request data length: 13
		0x06,       // sub-request 1: reference type 6
		0x00, 0x04, // file number: 4
		0x00, 0x07, // record number: 7
		0x00, 0x03, // record length: 3
		0x06, 0xaf, // record data
		0x04, 0xbe,
		0x10, 0x0d,
	}
	reqMaskWriteRegister = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x08, // length: 8
		0x01,       // unit: 1
		0x16,       // function: mask_write_register
		0x00, 0x04, // reference address: 4
		0x00, 0xf2, // and mask: 242
		0x00, 0x25, // or mask: 37
	}
	reqReadWriteMultipleRegisters = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x11, // length: 17
		0x01,       // unit: 1
		0x17,       // function: read_write_multiple_registers
		0x00, 0x03, // read starting address: 3
		0x00, 0x06, // quantity to read: 6
		0x00, 0x0e, // write starting address: 14
		0x00, 0x03, // quantity to write: 3
		0x06,       // write byte count: 6
		0x00, 0xff, // write registers
		0x00, 0xff,
		0x00, 0xff,
	}
	respReadWriteMultipleRegisters = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x0f, // length: 15
		0x01,       // unit: 1
		0x17,       // function: read_write_multiple_registers
		0x0c,       // byte count: 12
		0x00, 0xfe, // read registers
		0x0a, 0xcd,
		0x00, 0x01,
		0x00, 0x03,
		0x00, 0x0d,
		0x00, 0xff,
	}
	reqReadFIFOQueue = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x04, // length: 4
		0x01,       // unit: 1
		0x18,       // function: read_fifo_queue
		0x04, 0xde, // fifo pointer address: 1246
	}
	respReadFIFOQueue = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x0a, // length: 10
		0x01,       // unit: 1
		0x18,       // function: read_fifo_queue
		0x00, 0x06, // byte count: 6
		0x00, 0x02, // fifo count: 2
		0x01, 0xb8, // fifo value register: 440
		0x12, 0x84, // fifo value register: 4740
	}
	reqReadDeviceID = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x05, // length: 5
		0x01, // unit: 1
		0x2b, // function: encapsulated_interface_transport
		0x0e, // mei type: read device identification
		0x01, // read device id code: basic
		0x00, // object id: 0
	}
	respReadDeviceID = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x21, // length: 33
		0x01,                                          // unit: 1
		0x2b,                                          // function: encapsulated_interface_transport
		0x0e,                                          // mei type: read device identification
		0x01,                                          // read device id code: basic
		0x01,                                          // conformity level: basic, stream access only
		0x00,                                          // more follows: no
		0x00,                                          // next object id: 0
		0x03,                                          // number of objects: 3
		0x00, 0x07, 'C', 'o', 'm', 'p', 'a', 'n', 'y', // object 0 (vendor name), length 7
		0x01, 0x07, 'P', 'r', 'o', 'd', 'u', 'c', 't', // object 1 (product code), length 7
		0x02, 0x05, 'V', '2', '.', '1', '1', // object 2 (major minor revision), length 5
	}
	reqCANopen = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x2b,       // function: encapsulated_interface_transport
		0x0d,       // mei type: CANopen general reference
		0x00, 0x10, // CANopen request data
		0x20,
	}
	respCANopen = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x05, // length: 5
		0x01,       // unit: 1
		0x2b,       // function: encapsulated_interface_transport
		0x0d,       // mei type: CANopen general reference
		0x00, 0x10, // CANopen response data
	}
	reqUserDefined = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x04, // length: 4
		0x01,       // unit: 1
		0x41,       // function: 65, user defined
		0x12, 0x34, // vendor data
	}
	respUserDefined = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x03, // length: 3
		0x01, // unit: 1
		0x41, // function: 65, user defined
		0x00, // vendor data
	}
	reqUnknown = []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x02, // length: 2
		0x01, // unit: 1
		0x09, // function: 9, not defined
	}
)

// exception returns the exception response to a request fixture: the same
// MBAP header with length 3, the request's function code with the
// exception bit, and code.
func exception(req []byte, code byte) []byte {
	return []byte{
		req[0], req[1], // transaction id: the request's
		0x00, 0x00, // protocol id: 0
		0x00, 0x03, // length: 3
		req[6],        // unit: the request's
		req[7] | 0x80, // function: the request's, exception bit set
		code,          // exception code
	}
}
