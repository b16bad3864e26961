package modbus

import "github.com/tapwire/tapwire/dissect"

// Function codes (Modbus Application Protocol Specification V1.1b3, 5.1).
const (
	fcReadCoils                  = 1
	fcReadDiscreteInputs         = 2
	fcReadHoldingRegisters       = 3
	fcReadInputRegisters         = 4
	fcWriteSingleCoil            = 5
	fcWriteSingleRegister        = 6
	fcReadExceptionStatus        = 7
	fcDiagnostics                = 8
	fcGetCommEventCounter        = 11
	fcGetCommEventLog            = 12
	fcWriteMultipleCoils         = 15
	fcWriteMultipleRegisters     = 16
	fcReportServerID             = 17
	fcReadFileRecord             = 20
	fcWriteFileRecord            = 21
	fcMaskWriteRegister          = 22
	fcReadWriteMultipleRegisters = 23
	fcReadFIFOQueue              = 24
	fcEncapsulatedInterface      = 43

	exceptionBit = 0x80
)

// MEI types of function 43 (spec 6.19–6.21).
const (
	meiCANopen              = 13
	meiReadDeviceIdentifier = 14
)

// Diagnostics sub-functions that change the server's state (spec 6.8.1).
const (
	subRestartCommunications = 1
	subForceListenOnly       = 4
)

// funcInfo is what the function code alone tells.
type funcInfo struct {
	name string
	op   dissect.Op
}

// funcs is indexed by the function code without the exception bit; codes
// it leaves empty are user-defined (65–72, 100–110) or unknown. Functions 8
// and 43 are refined by sub-function and MEI type in nameOp.
var funcs = [128]funcInfo{
	fcReadCoils:                  {"read_coils", dissect.OpRead},
	fcReadDiscreteInputs:         {"read_discrete_inputs", dissect.OpRead},
	fcReadHoldingRegisters:       {"read_holding_registers", dissect.OpRead},
	fcReadInputRegisters:         {"read_input_registers", dissect.OpRead},
	fcWriteSingleCoil:            {"write_single_coil", dissect.OpWrite},
	fcWriteSingleRegister:        {"write_single_register", dissect.OpWrite},
	fcReadExceptionStatus:        {"read_exception_status", dissect.OpDiagnostic},
	fcDiagnostics:                {"diagnostics", dissect.OpDiagnostic},
	fcGetCommEventCounter:        {"get_comm_event_counter", dissect.OpDiagnostic},
	fcGetCommEventLog:            {"get_comm_event_log", dissect.OpDiagnostic},
	fcWriteMultipleCoils:         {"write_multiple_coils", dissect.OpWrite},
	fcWriteMultipleRegisters:     {"write_multiple_registers", dissect.OpWrite},
	fcReportServerID:             {"report_server_id", dissect.OpDiscovery},
	fcReadFileRecord:             {"read_file_record", dissect.OpRead},
	fcWriteFileRecord:            {"write_file_record", dissect.OpWrite},
	fcMaskWriteRegister:          {"mask_write_register", dissect.OpWrite},
	fcReadWriteMultipleRegisters: {"read_write_multiple_registers", dissect.OpWrite},
	fcReadFIFOQueue:              {"read_fifo_queue", dissect.OpRead},
	fcEncapsulatedInterface:      {"encapsulated_interface_transport", dissect.OpOther},
}

var (
	userDefined = funcInfo{"user_defined", dissect.OpOther}
	unknownFunc = funcInfo{"unknown", dissect.OpOther}
	readDevID   = funcInfo{"read_device_identification", dissect.OpDiscovery}
)

// nameOp returns the event name and operation of function code fc (without
// the exception bit). sub is the diagnostics sub-function (fc 8) or the MEI
// type (fc 43) when hasSub.
func nameOp(fc uint8, sub uint16, hasSub bool) (string, dissect.Op) {
	fi := funcs[fc&0x7f]
	switch {
	case fi.name != "":
	case fc >= 65 && fc <= 72, fc >= 100 && fc <= 110:
		fi = userDefined
	default:
		fi = unknownFunc
	}
	switch fc {
	case fcDiagnostics:
		if hasSub && (sub == subRestartCommunications || sub == subForceListenOnly) {
			return fi.name, dissect.OpControl
		}
	case fcEncapsulatedInterface:
		if hasSub && sub == meiReadDeviceIdentifier {
			return readDevID.name, readDevID.op
		}
	}
	return fi.name, fi.op
}

// exceptionNames are the exception codes of spec section 7.
var exceptionNames = [...]string{
	1:  "illegal_function",
	2:  "illegal_data_address",
	3:  "illegal_data_value",
	4:  "server_device_failure",
	5:  "acknowledge",
	6:  "server_device_busy",
	8:  "memory_parity_error",
	10: "gateway_path_unavailable",
	11: "gateway_target_device_failed_to_respond",
}

// exceptionName returns the snake_case name of exception code c, or
// "exception" for codes the spec does not define.
func exceptionName(c uint8) string {
	if int(c) < len(exceptionNames) && exceptionNames[c] != "" {
		return exceptionNames[c]
	}
	return "exception"
}

// Names of the basic and regular device identification objects (spec
// 6.21, table "Read Device ID code"); other ids have no name.
var objectNames = [...]string{
	0: "vendor_name",
	1: "product_code",
	2: "major_minor_revision",
	3: "vendor_url",
	4: "product_name",
	5: "model_name",
	6: "user_application_name",
}

// ObjectName returns the snake_case name of device identification object
// id (0 vendor_name … 6 user_application_name), or "" for ids the spec
// does not name.
func ObjectName(id uint8) string {
	if int(id) < len(objectNames) {
		return objectNames[id]
	}
	return ""
}
