package modbus

import (
	"errors"
	"testing"

	"github.com/tapwire/tapwire/dissect"
)

const (
	req  = dissect.DirRequest
	resp = dissect.DirResponse
)

type decodeCase struct {
	name   string
	before []byte // request decoded first on the same flow (pairs a response)
	dir    dissect.Dir
	adu    []byte

	fn      uint32
	fname   string
	op      dissect.Op
	errName string // Event.Error; "" for OK
	json    string // details
	err     error  // nil, dissect.ErrMalformed or dissect.ErrTruncated
}

// decodeCases cover every function code: request, response (paired with its
// request) and an exception, then malformed and truncated PDUs.
var decodeCases = []decodeCase{
	// 1 read_coils
	{name: "read_coils request", dir: req, adu: reqReadCoils,
		fn: 1, fname: "read_coils", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"address":19,"quantity":19}`},
	{name: "read_coils response", before: reqReadCoils, dir: resp, adu: respReadCoils,
		fn: 1, fname: "read_coils", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"address":19,"quantity":19,"byte_count":3}`},
	{name: "read_coils exception", before: reqReadCoils, dir: resp, adu: exception(reqReadCoils, 2),
		fn: 1, fname: "read_coils", op: dissect.OpRead, errName: "illegal_data_address",
		json: `{"unit":1,"transaction_id":1,"address":19,"quantity":19,"exception_code":2}`},

	// 2 read_discrete_inputs
	{name: "read_discrete_inputs request", dir: req, adu: reqReadDiscreteInputs,
		fn: 2, fname: "read_discrete_inputs", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"address":196,"quantity":22}`},
	{name: "read_discrete_inputs response", before: reqReadDiscreteInputs, dir: resp, adu: respReadDiscreteInputs,
		fn: 2, fname: "read_discrete_inputs", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"address":196,"quantity":22,"byte_count":3}`},
	{name: "read_discrete_inputs exception", before: reqReadDiscreteInputs, dir: resp, adu: exception(reqReadDiscreteInputs, 1),
		fn: 2, fname: "read_discrete_inputs", op: dissect.OpRead, errName: "illegal_function",
		json: `{"unit":1,"transaction_id":1,"address":196,"quantity":22,"exception_code":1}`},

	// 3 read_holding_registers
	{name: "read_holding_registers request", dir: req, adu: reqReadHoldingRegisters,
		fn: 3, fname: "read_holding_registers", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"address":107,"quantity":3}`},
	{name: "read_holding_registers response", before: reqReadHoldingRegisters, dir: resp, adu: respReadHoldingRegisters,
		fn: 3, fname: "read_holding_registers", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"address":107,"quantity":3,"byte_count":6}`},
	{name: "read_holding_registers exception", before: reqReadHoldingRegisters, dir: resp, adu: exception(reqReadHoldingRegisters, 3),
		fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "illegal_data_value",
		json: `{"unit":1,"transaction_id":1,"address":107,"quantity":3,"exception_code":3}`},
	{name: "read_holding_registers response unmatched", dir: resp, adu: respReadHoldingRegisters,
		fn: 3, fname: "read_holding_registers", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"byte_count":6,"unmatched":true}`},
	{name: "read_holding_registers response to another function", before: reqReadInputRegisters, dir: resp, adu: respReadHoldingRegisters,
		fn: 3, fname: "read_holding_registers", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"byte_count":6,"unmatched":true}`},

	// 4 read_input_registers
	{name: "read_input_registers request", dir: req, adu: reqReadInputRegisters,
		fn: 4, fname: "read_input_registers", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"address":8,"quantity":1}`},
	{name: "read_input_registers response", before: reqReadInputRegisters, dir: resp, adu: respReadInputRegisters,
		fn: 4, fname: "read_input_registers", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"address":8,"quantity":1,"byte_count":2}`},
	{name: "read_input_registers exception", before: reqReadInputRegisters, dir: resp, adu: exception(reqReadInputRegisters, 4),
		fn: 4, fname: "read_input_registers", op: dissect.OpRead, errName: "server_device_failure",
		json: `{"unit":1,"transaction_id":1,"address":8,"quantity":1,"exception_code":4}`},

	// 5 write_single_coil (the response echoes the request)
	{name: "write_single_coil request", dir: req, adu: reqWriteSingleCoil,
		fn: 5, fname: "write_single_coil", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"address":172,"value":65280}`},
	{name: "write_single_coil response", before: reqWriteSingleCoil, dir: resp, adu: reqWriteSingleCoil,
		fn: 5, fname: "write_single_coil", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"address":172,"value":65280}`},
	{name: "write_single_coil exception", before: reqWriteSingleCoil, dir: resp, adu: exception(reqWriteSingleCoil, 5),
		fn: 5, fname: "write_single_coil", op: dissect.OpWrite, errName: "acknowledge",
		json: `{"unit":1,"transaction_id":1,"address":172,"exception_code":5}`},

	// 6 write_single_register
	{name: "write_single_register request", dir: req, adu: reqWriteSingleRegister,
		fn: 6, fname: "write_single_register", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"address":1,"value":3}`},
	{name: "write_single_register response", before: reqWriteSingleRegister, dir: resp, adu: reqWriteSingleRegister,
		fn: 6, fname: "write_single_register", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"address":1,"value":3}`},
	{name: "write_single_register exception", before: reqWriteSingleRegister, dir: resp, adu: exception(reqWriteSingleRegister, 6),
		fn: 6, fname: "write_single_register", op: dissect.OpWrite, errName: "server_device_busy",
		json: `{"unit":1,"transaction_id":1,"address":1,"exception_code":6}`},

	// 7 read_exception_status
	{name: "read_exception_status request", dir: req, adu: reqReadExceptionStatus,
		fn: 7, fname: "read_exception_status", op: dissect.OpDiagnostic,
		json: `{"unit":1,"transaction_id":1}`},
	{name: "read_exception_status response", before: reqReadExceptionStatus, dir: resp, adu: respReadExceptionStatus,
		fn: 7, fname: "read_exception_status", op: dissect.OpDiagnostic,
		json: `{"unit":1,"transaction_id":1}`},
	{name: "read_exception_status exception", before: reqReadExceptionStatus, dir: resp, adu: exception(reqReadExceptionStatus, 8),
		fn: 7, fname: "read_exception_status", op: dissect.OpDiagnostic, errName: "memory_parity_error",
		json: `{"unit":1,"transaction_id":1,"exception_code":8}`},

	// 8 diagnostics
	{name: "diagnostics request", dir: req, adu: reqDiagnosticsQuery,
		fn: 8, fname: "diagnostics", op: dissect.OpDiagnostic,
		json: `{"unit":1,"transaction_id":1,"sub_function":0}`},
	{name: "diagnostics response", before: reqDiagnosticsQuery, dir: resp, adu: reqDiagnosticsQuery,
		fn: 8, fname: "diagnostics", op: dissect.OpDiagnostic,
		json: `{"unit":1,"transaction_id":1,"sub_function":0}`},
	{name: "diagnostics exception", before: reqDiagnosticsQuery, dir: resp, adu: exception(reqDiagnosticsQuery, 1),
		fn: 8, fname: "diagnostics", op: dissect.OpDiagnostic, errName: "illegal_function",
		json: `{"unit":1,"transaction_id":1,"sub_function":0,"exception_code":1}`},
	{name: "diagnostics restart request", dir: req, adu: reqDiagnosticsRestart,
		fn: 8, fname: "diagnostics", op: dissect.OpControl,
		json: `{"unit":1,"transaction_id":1,"sub_function":1}`},
	{name: "diagnostics restart response", before: reqDiagnosticsRestart, dir: resp, adu: reqDiagnosticsRestart,
		fn: 8, fname: "diagnostics", op: dissect.OpControl,
		json: `{"unit":1,"transaction_id":1,"sub_function":1}`},
	{name: "diagnostics restart exception takes op from request", before: reqDiagnosticsRestart, dir: resp, adu: exception(reqDiagnosticsRestart, 4),
		fn: 8, fname: "diagnostics", op: dissect.OpControl, errName: "server_device_failure",
		json: `{"unit":1,"transaction_id":1,"sub_function":1,"exception_code":4}`},
	{name: "diagnostics force listen only request", dir: req, adu: reqDiagnosticsListenOnly,
		fn: 8, fname: "diagnostics", op: dissect.OpControl,
		json: `{"unit":1,"transaction_id":1,"sub_function":4}`},

	// 11 get_comm_event_counter
	{name: "get_comm_event_counter request", dir: req, adu: reqGetCommEventCounter,
		fn: 11, fname: "get_comm_event_counter", op: dissect.OpDiagnostic,
		json: `{"unit":1,"transaction_id":1}`},
	{name: "get_comm_event_counter response", before: reqGetCommEventCounter, dir: resp, adu: respGetCommEventCounter,
		fn: 11, fname: "get_comm_event_counter", op: dissect.OpDiagnostic,
		json: `{"unit":1,"transaction_id":1}`},
	{name: "get_comm_event_counter exception", before: reqGetCommEventCounter, dir: resp, adu: exception(reqGetCommEventCounter, 1),
		fn: 11, fname: "get_comm_event_counter", op: dissect.OpDiagnostic, errName: "illegal_function",
		json: `{"unit":1,"transaction_id":1,"exception_code":1}`},

	// 12 get_comm_event_log
	{name: "get_comm_event_log request", dir: req, adu: reqGetCommEventLog,
		fn: 12, fname: "get_comm_event_log", op: dissect.OpDiagnostic,
		json: `{"unit":1,"transaction_id":1}`},
	{name: "get_comm_event_log response", before: reqGetCommEventLog, dir: resp, adu: respGetCommEventLog,
		fn: 12, fname: "get_comm_event_log", op: dissect.OpDiagnostic,
		json: `{"unit":1,"transaction_id":1,"byte_count":8}`},
	{name: "get_comm_event_log exception", before: reqGetCommEventLog, dir: resp, adu: exception(reqGetCommEventLog, 1),
		fn: 12, fname: "get_comm_event_log", op: dissect.OpDiagnostic, errName: "illegal_function",
		json: `{"unit":1,"transaction_id":1,"exception_code":1}`},

	// 15 write_multiple_coils
	{name: "write_multiple_coils request", dir: req, adu: reqWriteMultipleCoils,
		fn: 15, fname: "write_multiple_coils", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"address":19,"quantity":10,"byte_count":2}`},
	{name: "write_multiple_coils response", before: reqWriteMultipleCoils, dir: resp, adu: respWriteMultipleCoils,
		fn: 15, fname: "write_multiple_coils", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"address":19,"quantity":10}`},
	{name: "write_multiple_coils exception", before: reqWriteMultipleCoils, dir: resp, adu: exception(reqWriteMultipleCoils, 2),
		fn: 15, fname: "write_multiple_coils", op: dissect.OpWrite, errName: "illegal_data_address",
		json: `{"unit":1,"transaction_id":1,"address":19,"quantity":10,"exception_code":2}`},

	// 16 write_multiple_registers
	{name: "write_multiple_registers request", dir: req, adu: reqWriteMultipleRegisters,
		fn: 16, fname: "write_multiple_registers", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"address":1,"quantity":2,"byte_count":4}`},
	{name: "write_multiple_registers response", before: reqWriteMultipleRegisters, dir: resp, adu: respWriteMultipleRegisters,
		fn: 16, fname: "write_multiple_registers", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"address":1,"quantity":2}`},
	{name: "write_multiple_registers exception", before: reqWriteMultipleRegisters, dir: resp, adu: exception(reqWriteMultipleRegisters, 0x0a),
		fn: 16, fname: "write_multiple_registers", op: dissect.OpWrite, errName: "gateway_path_unavailable",
		json: `{"unit":1,"transaction_id":1,"address":1,"quantity":2,"exception_code":10}`},

	// 17 report_server_id
	{name: "report_server_id request", dir: req, adu: reqReportServerID,
		fn: 17, fname: "report_server_id", op: dissect.OpDiscovery,
		json: `{"unit":1,"transaction_id":1}`},
	{name: "report_server_id response text", before: reqReportServerID, dir: resp, adu: respReportServerIDText,
		fn: 17, fname: "report_server_id", op: dissect.OpDiscovery,
		json: `{"unit":1,"transaction_id":1,"byte_count":5,"server_id":"PLC1","run_indicator":"on"}`},
	{name: "report_server_id response binary", before: reqReportServerID, dir: resp, adu: respReportServerIDBinary,
		fn: 17, fname: "report_server_id", op: dissect.OpDiscovery,
		json: `{"unit":1,"transaction_id":1,"byte_count":5,"server_id":"b4","run_indicator":"on"}`},
	{name: "report_server_id exception", before: reqReportServerID, dir: resp, adu: exception(reqReportServerID, 0x0b),
		fn: 17, fname: "report_server_id", op: dissect.OpDiscovery, errName: "gateway_target_device_failed_to_respond",
		json: `{"unit":1,"transaction_id":1,"exception_code":11}`},

	// 20 read_file_record
	{name: "read_file_record request", dir: req, adu: reqReadFileRecord,
		fn: 20, fname: "read_file_record", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"byte_count":14,"records":2}`},
	{name: "read_file_record response", before: reqReadFileRecord, dir: resp, adu: respReadFileRecord,
		fn: 20, fname: "read_file_record", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"byte_count":12,"records":2}`},
	{name: "read_file_record exception", before: reqReadFileRecord, dir: resp, adu: exception(reqReadFileRecord, 2),
		fn: 20, fname: "read_file_record", op: dissect.OpRead, errName: "illegal_data_address",
		json: `{"unit":1,"transaction_id":1,"exception_code":2}`},

	// 21 write_file_record (the response echoes the request)
	{name: "write_file_record request", dir: req, adu: reqWriteFileRecord,
		fn: 21, fname: "write_file_record", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"byte_count":13,"records":1}`},
	{name: "write_file_record response", before: reqWriteFileRecord, dir: resp, adu: reqWriteFileRecord,
		fn: 21, fname: "write_file_record", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"byte_count":13,"records":1}`},
	{name: "write_file_record exception", before: reqWriteFileRecord, dir: resp, adu: exception(reqWriteFileRecord, 3),
		fn: 21, fname: "write_file_record", op: dissect.OpWrite, errName: "illegal_data_value",
		json: `{"unit":1,"transaction_id":1,"exception_code":3}`},

	// 22 mask_write_register (the response echoes the request)
	{name: "mask_write_register request", dir: req, adu: reqMaskWriteRegister,
		fn: 22, fname: "mask_write_register", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"address":4,"and_mask":242,"or_mask":37}`},
	{name: "mask_write_register response", before: reqMaskWriteRegister, dir: resp, adu: reqMaskWriteRegister,
		fn: 22, fname: "mask_write_register", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"address":4,"and_mask":242,"or_mask":37}`},
	{name: "mask_write_register exception", before: reqMaskWriteRegister, dir: resp, adu: exception(reqMaskWriteRegister, 2),
		fn: 22, fname: "mask_write_register", op: dissect.OpWrite, errName: "illegal_data_address",
		json: `{"unit":1,"transaction_id":1,"address":4,"exception_code":2}`},

	// 23 read_write_multiple_registers
	{name: "read_write_multiple_registers request", dir: req, adu: reqReadWriteMultipleRegisters,
		fn: 23, fname: "read_write_multiple_registers", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"read_address":3,"read_quantity":6,"write_address":14,"write_quantity":3,"byte_count":6}`},
	{name: "read_write_multiple_registers response", before: reqReadWriteMultipleRegisters, dir: resp, adu: respReadWriteMultipleRegisters,
		fn: 23, fname: "read_write_multiple_registers", op: dissect.OpWrite,
		json: `{"unit":1,"transaction_id":1,"read_address":3,"read_quantity":6,"write_address":14,"write_quantity":3,"byte_count":12}`},
	{name: "read_write_multiple_registers exception", before: reqReadWriteMultipleRegisters, dir: resp, adu: exception(reqReadWriteMultipleRegisters, 2),
		fn: 23, fname: "read_write_multiple_registers", op: dissect.OpWrite, errName: "illegal_data_address",
		json: `{"unit":1,"transaction_id":1,"read_address":3,"read_quantity":6,"write_address":14,"write_quantity":3,"exception_code":2}`},

	// 24 read_fifo_queue
	{name: "read_fifo_queue request", dir: req, adu: reqReadFIFOQueue,
		fn: 24, fname: "read_fifo_queue", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"address":1246}`},
	{name: "read_fifo_queue response", before: reqReadFIFOQueue, dir: resp, adu: respReadFIFOQueue,
		fn: 24, fname: "read_fifo_queue", op: dissect.OpRead,
		json: `{"unit":1,"transaction_id":1,"address":1246,"byte_count":6,"fifo_count":2}`},
	{name: "read_fifo_queue exception", before: reqReadFIFOQueue, dir: resp, adu: exception(reqReadFIFOQueue, 3),
		fn: 24, fname: "read_fifo_queue", op: dissect.OpRead, errName: "illegal_data_value",
		json: `{"unit":1,"transaction_id":1,"address":1246,"exception_code":3}`},

	// 43/14 read_device_identification
	{name: "read_device_identification request", dir: req, adu: reqReadDeviceID,
		fn: 43, fname: "read_device_identification", op: dissect.OpDiscovery,
		json: `{"unit":1,"transaction_id":1,"mei_type":14,"read_device_id_code":1,"object_id":0}`},
	{name: "read_device_identification response", before: reqReadDeviceID, dir: resp, adu: respReadDeviceID,
		fn: 43, fname: "read_device_identification", op: dissect.OpDiscovery,
		json: `{"unit":1,"transaction_id":1,"mei_type":14,"read_device_id_code":1,"conformity_level":1,"more_follows":false,"next_object_id":0,` +
			`"objects":[{"id":0,"name":"vendor_name","value":"Company"},{"id":1,"name":"product_code","value":"Product"},{"id":2,"name":"major_minor_revision","value":"V2.11"}]}`},
	{name: "read_device_identification exception takes name from request", before: reqReadDeviceID, dir: resp, adu: exception(reqReadDeviceID, 1),
		fn: 43, fname: "read_device_identification", op: dissect.OpDiscovery, errName: "illegal_function",
		json: `{"unit":1,"transaction_id":1,"exception_code":1,"mei_type":14}`},

	// 43/13 and other MEI types: encapsulated_interface_transport
	{name: "encapsulated_interface_transport canopen request", dir: req, adu: reqCANopen,
		fn: 43, fname: "encapsulated_interface_transport", op: dissect.OpOther,
		json: `{"unit":1,"transaction_id":1,"mei_type":13}`},
	{name: "encapsulated_interface_transport canopen response", before: reqCANopen, dir: resp, adu: respCANopen,
		fn: 43, fname: "encapsulated_interface_transport", op: dissect.OpOther,
		json: `{"unit":1,"transaction_id":1,"mei_type":13}`},
	{name: "encapsulated_interface_transport exception", before: reqCANopen, dir: resp, adu: exception(reqCANopen, 1),
		fn: 43, fname: "encapsulated_interface_transport", op: dissect.OpOther, errName: "illegal_function",
		json: `{"unit":1,"transaction_id":1,"exception_code":1,"mei_type":13}`},
	{name: "encapsulated_interface_transport exception unmatched", dir: resp, adu: exception(reqReadDeviceID, 1),
		fn: 43, fname: "encapsulated_interface_transport", op: dissect.OpOther, errName: "illegal_function",
		json: `{"unit":1,"transaction_id":1,"exception_code":1,"unmatched":true}`},

	// user-defined and unknown codes
	{name: "user_defined request", dir: req, adu: reqUserDefined,
		fn: 65, fname: "user_defined", op: dissect.OpOther,
		json: `{"unit":1,"transaction_id":1}`},
	{name: "user_defined response", before: reqUserDefined, dir: resp, adu: respUserDefined,
		fn: 65, fname: "user_defined", op: dissect.OpOther,
		json: `{"unit":1,"transaction_id":1}`},
	{name: "user_defined exception", before: reqUserDefined, dir: resp, adu: exception(reqUserDefined, 1),
		fn: 65, fname: "user_defined", op: dissect.OpOther, errName: "illegal_function",
		json: `{"unit":1,"transaction_id":1,"exception_code":1}`},
	{name: "unknown request", dir: req, adu: reqUnknown,
		fn: 9, fname: "unknown", op: dissect.OpOther,
		json: `{"unit":1,"transaction_id":1}`},
	{name: "unknown exception", before: reqUnknown, dir: resp, adu: exception(reqUnknown, 1),
		fn: 9, fname: "unknown", op: dissect.OpOther, errName: "illegal_function",
		json: `{"unit":1,"transaction_id":1,"exception_code":1}`},
	{name: "undefined exception code", before: reqReadHoldingRegisters, dir: resp, adu: exception(reqReadHoldingRegisters, 7),
		fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "exception",
		json: `{"unit":1,"transaction_id":1,"address":107,"quantity":3,"exception_code":7}`},

	// malformed
	{name: "read_holding_registers request short", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x05, // length: 5
		0x01,       // unit: 1
		0x03,       // function: read_holding_registers
		0x00, 0x6b, // starting address: 107
		0x00, // quantity: cut short
	}, fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1}`, err: dissect.ErrMalformed},
	{name: "read_holding_registers quantity 0", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x03,       // function: read_holding_registers
		0x00, 0x6b, // starting address: 107
		0x00, 0x00, // quantity: 0
	}, fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"address":107,"quantity":0}`, err: dissect.ErrMalformed},
	{name: "read_holding_registers quantity 126", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x03,       // function: read_holding_registers
		0x00, 0x00, // starting address: 0
		0x00, 0x7e, // quantity: 126
	}, fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"address":0,"quantity":126}`, err: dissect.ErrMalformed},
	{name: "read_coils quantity 2001", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x01,       // function: read_coils
		0x00, 0x00, // starting address: 0
		0x07, 0xd1, // quantity: 2001
	}, fn: 1, fname: "read_coils", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"address":0,"quantity":2001}`, err: dissect.ErrMalformed},
	{name: "read_holding_registers response odd byte count", dir: resp, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,             // unit: 1
		0x03,             // function: read_holding_registers
		0x03,             // byte count: 3
		0x00, 0x01, 0x02, // a register and a half
	}, fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"byte_count":3,"unmatched":true}`, err: dissect.ErrMalformed},
	{name: "read_holding_registers response byte count beyond length", dir: resp, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x05, // length: 5
		0x01,       // unit: 1
		0x03,       // function: read_holding_registers
		0x04,       // byte count: 4
		0x00, 0x01, // one register only
	}, fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"byte_count":4,"unmatched":true}`, err: dissect.ErrMalformed},
	{name: "read_holding_registers response short of request quantity", before: reqReadHoldingRegisters, dir: resp, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x05, // length: 5
		0x01,       // unit: 1
		0x03,       // function: read_holding_registers
		0x02,       // byte count: 2 (the request asked for 3 registers)
		0x02, 0x2b, // register 108: 555
	}, fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"address":107,"quantity":3,"byte_count":2}`, err: dissect.ErrMalformed},
	{name: "write_single_coil bad value", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x05,       // function: write_single_coil
		0x00, 0xac, // output address: 172
		0x12, 0x34, // output value: neither on nor off
	}, fn: 5, fname: "write_single_coil", op: dissect.OpWrite, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"address":172,"value":4660}`, err: dissect.ErrMalformed},
	{name: "write_multiple_registers byte count not twice quantity", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x0b, // length: 11
		0x01,       // unit: 1
		0x10,       // function: write_multiple_registers
		0x00, 0x01, // starting address: 1
		0x00, 0x03, // quantity of registers: 3
		0x04,       // byte count: 4 (want 6)
		0x00, 0x0a, // register 2: 10
		0x01, 0x02, // register 3: 258
	}, fn: 16, fname: "write_multiple_registers", op: dissect.OpWrite, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"address":1,"quantity":3,"byte_count":4}`, err: dissect.ErrMalformed},
	{name: "write_multiple_coils values beyond byte count", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x0a, // length: 10
		0x01,       // unit: 1
		0x0f,       // function: write_multiple_coils
		0x00, 0x13, // starting address: 19
		0x00, 0x0a, // quantity of outputs: 10
		0x02,             // byte count: 2
		0xcd, 0x01, 0x00, // outputs, one byte too many
	}, fn: 15, fname: "write_multiple_coils", op: dissect.OpWrite, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"address":19,"quantity":10,"byte_count":2}`, err: dissect.ErrMalformed},
	{name: "read_device_identification request with a trailing byte", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x0a, // unit: 10
		0x2b, // function: encapsulated_interface_transport
		0x0e, // mei type: read device identification
		0x03, // read device id code: extended
		0x01, // object id: 1
		0x00, // one byte too many (seen in the QuickDraw test captures)
	}, fn: 43, fname: "read_device_identification", op: dissect.OpDiscovery, errName: "malformed",
		json: `{"unit":10,"transaction_id":1,"mei_type":14,"read_device_id_code":3,"object_id":1}`, err: dissect.ErrMalformed},
	{name: "read_file_record bad reference type", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x0a, // length: 10
		0x01,       // unit: 1
		0x14,       // function: read_file_record
		0x07,       // byte count: 7
		0x05,       // reference type: 5 (want 6)
		0x00, 0x04, // file number: 4
		0x00, 0x01, // record number: 1
		0x00, 0x02, // record length: 2
	}, fn: 20, fname: "read_file_record", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"byte_count":7}`, err: dissect.ErrMalformed},
	{name: "read_fifo_queue fifo count 32", dir: resp, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x18,       // function: read_fifo_queue
		0x00, 0x02, // byte count: 2
		0x00, 0x20, // fifo count: 32 (at most 31)
	}, fn: 24, fname: "read_fifo_queue", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"byte_count":2,"fifo_count":32,"unmatched":true}`, err: dissect.ErrMalformed},
	{name: "read_device_identification object list cut short", before: reqReadDeviceID, dir: resp, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x13, // length: 19
		0x01,                                          // unit: 1
		0x2b,                                          // function: encapsulated_interface_transport
		0x0e,                                          // mei type: read device identification
		0x01,                                          // read device id code: basic
		0x01,                                          // conformity level: basic
		0x00,                                          // more follows: no
		0x00,                                          // next object id: 0
		0x02,                                          // number of objects: 2
		0x00, 0x07, 'C', 'o', 'm', 'p', 'a', 'n', 'y', // object 0 (vendor name), length 7
		0x01, 0x07, // object 1 (product code), length 7, but no value
	}, fn: 43, fname: "read_device_identification", op: dissect.OpDiscovery, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"mei_type":14,"read_device_id_code":1,"conformity_level":1,"more_follows":false,"next_object_id":0,` +
			`"objects":[{"id":0,"name":"vendor_name","value":"Company"}]}`, err: dissect.ErrMalformed},
	{name: "exception with extra byte", before: reqReadHoldingRegisters, dir: resp, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x04, // length: 4
		0x01, // unit: 1
		0x83, // function: read_holding_registers, exception
		0x02, // exception code: illegal data address
		0x00, // one byte too many
	}, fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1,"address":107,"quantity":3,"exception_code":2}`, err: dissect.ErrMalformed},
	{name: "exception in a request", dir: req, adu: exception(reqReadHoldingRegisters, 2),
		fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1}`, err: dissect.ErrMalformed},
	{name: "function code 0", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x02, // length: 2
		0x01, // unit: 1
		0x00, // function: 0, not valid
	}, fn: 0, fname: "unknown", op: dissect.OpOther, errName: "malformed",
		json: `{"unit":1,"transaction_id":1}`, err: dissect.ErrMalformed},
	{name: "protocol id 1", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x01, // protocol id: 1, not Modbus
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x03,       // function: read_holding_registers
		0x00, 0x6b, // starting address: 107
		0x00, 0x03, // quantity of registers: 3
	}, fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1}`, err: dissect.ErrMalformed},
	{name: "adu longer than its length field", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x03,       // function: read_holding_registers
		0x00, 0x6b, // starting address: 107
		0x00, 0x03, // quantity of registers: 3
		0xff, // a byte past the length field
	}, fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "malformed",
		json: `{"unit":1,"transaction_id":1}`, err: dissect.ErrMalformed},

	// truncated
	{name: "adu shorter than its length field", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x06, // length: 6
		0x01,       // unit: 1
		0x03,       // function: read_holding_registers
		0x00, 0x6b, // starting address: 107
		// the quantity is missing
	}, fn: 3, fname: "read_holding_registers", op: dissect.OpRead, errName: "truncated",
		json: `{"unit":1,"transaction_id":1}`, err: dissect.ErrTruncated},
	{name: "read_device_identification truncated keeps mei type", dir: req, adu: []byte{
		0x00, 0x01, // transaction id: 1
		0x00, 0x00, // protocol id: 0
		0x00, 0x05, // length: 5
		0x01, // unit: 1
		0x2b, // function: encapsulated_interface_transport
		0x0e, // mei type: read device identification
		// read device id code and object id are missing
	}, fn: 43, fname: "read_device_identification", op: dissect.OpDiscovery, errName: "truncated",
		json: `{"unit":1,"transaction_id":1,"mei_type":14}`, err: dissect.ErrTruncated},
}

func TestDecode(t *testing.T) {
	for _, tt := range decodeCases {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.before != nil {
				if _, err := h.decode(req, tt.before); err != nil {
					t.Fatalf("request: %v", err)
				}
			}
			e, err := h.decode(tt.dir, tt.adu)
			switch {
			case tt.err == nil && err != nil:
				t.Fatalf("Decode: %v", err)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Fatalf("Decode error = %v, want %v", err, tt.err)
			}
			if e == nil {
				t.Fatal("no event")
			}
			if !e.HasFunc || e.Func != tt.fn || e.Name != tt.fname || e.Op != tt.op {
				t.Errorf("func %v %d %q %v, want %d %q %v", e.HasFunc, e.Func, e.Name, e.Op, tt.fn, tt.fname, tt.op)
			}
			if e.OK != (tt.errName == "") || e.Error != tt.errName {
				t.Errorf("ok %v error %q, want %q", e.OK, e.Error, tt.errName)
			}
			if e.Proto != dissect.ProtoModbus || e.Dir != tt.dir || e.FlowID != testFlowID {
				t.Errorf("proto %v dir %v flow %d", e.Proto, e.Dir, e.FlowID)
			}
			if got := detailJSON(e); got != tt.json {
				t.Errorf("details\n got %s\nwant %s", got, tt.json)
			}
		})
	}
}

// TestDecodeErrorMessages checks that errors name the package, the function,
// the direction and what was wrong.
func TestDecodeErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"read_holding_registers request short", "modbus: read_holding_registers request: pdu length 4, want 5"},
		{"read_holding_registers quantity 126", "modbus: read_holding_registers request: quantity 126, want 1..125"},
		{"read_holding_registers response odd byte count", "modbus: read_holding_registers response: byte count 3, want an even number"},
		{"read_holding_registers response short of request quantity", "modbus: read_holding_registers response: byte count 2, want 6"},
		{"write_single_coil bad value", "modbus: write_single_coil request: coil value 0x1234, want 0x0000 or 0xff00"},
		{"write_multiple_registers byte count not twice quantity", "modbus: write_multiple_registers request: byte count 4, want 6"},
		{"read_device_identification object list cut short", "modbus: read_device_identification response: objects 1, want 2"},
		{"exception in a request", "modbus: read_holding_registers request: exception function code in a request"},
		{"protocol id 1", "modbus: mbap: protocol id 1, want 0"},
		{"adu shorter than its length field", "modbus: mbap: adu length 10, want 12"},
	}
	byName := map[string]decodeCase{}
	for _, c := range decodeCases {
		byName[c.name] = c
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := byName[tt.name]
			if !ok {
				t.Fatalf("no decode case %q", tt.name)
			}
			h := newHarness(t)
			if c.before != nil {
				h.decode(req, c.before)
			}
			_, err := h.decode(c.dir, c.adu)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %s", err, tt.want)
			}
		})
	}
}
