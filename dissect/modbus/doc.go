// Package modbus dissects Modbus/TCP (BRIEF 4), written from the Modbus
// Application Protocol Specification V1.1b3 and the Modbus Messaging on
// TCP/IP Implementation Guide V1.0b. Its PDU decoder (DecodePDU) also serves
// Modbus RTU.
//
// # Framing and recognition
//
// An ADU is the 7-byte MBAP header (transaction id, protocol id 0, length of
// what follows, unit id) and a PDU of at most 253 bytes (function code and
// data), so Frame returns 6 + the length field, at most MaxPDU = 260, and
// rejects a protocol id other than 0 or a length field outside 2..254 with
// an error wrapping dissect.ErrMalformed. Ports is 502, but flows are
// recognised by Probe on structure: a run of whole ADUs with valid headers
// and plausible function codes (1..127, or 0x81..0xFF with a 1-byte
// exception code), the last of which may stop early.
//
// Classify checks a PDU against both its function's request and response
// formats and answers only when exactly one fits: an exception (function
// code ≥ 0x80) is a response; a read of coils or registers with 4 bytes of
// data is a request and one whose byte count matches the length a response;
// a write of multiple coils or registers with a byte count is a request and
// one of 4 bytes a response; echoed forms (functions 5, 6, 8, 21, 22) and
// unknown codes are DirUnknown. PairKey is the transaction id.
//
// # Events
//
// Decode writes exactly one event per ADU that holds a function code (an
// ADU of fewer than 8 bytes writes none and returns an error): Func is the
// function code without the exception bit, Name the spec's function name in
// snake_case, Op its operation:
//
//	 1     read_coils                        read
//	 2     read_discrete_inputs              read
//	 3     read_holding_registers            read
//	 4     read_input_registers              read
//	 5     write_single_coil                 write
//	 6     write_single_register             write
//	 7     read_exception_status             diagnostic
//	 8     diagnostics                       diagnostic; control for sub-function 1
//	                                         (restart communications option) and 4
//	                                         (force listen only mode)
//	11     get_comm_event_counter            diagnostic
//	12     get_comm_event_log                diagnostic
//	15     write_multiple_coils              write
//	16     write_multiple_registers          write
//	17     report_server_id                  discovery
//	20     read_file_record                  read
//	21     write_file_record                 write
//	22     mask_write_register               write
//	23     read_write_multiple_registers     write
//	24     read_fifo_queue                   read
//	43/14  read_device_identification        discovery
//	43/13  encapsulated_interface_transport  other (CANopen general reference)
//	43/*   encapsulated_interface_transport  other (any other MEI type)
//	65–72, 100–110  user_defined             other
//	other  unknown                           other
//
// An exception response has OK false and Error the exception's name:
// illegal_function, illegal_data_address, illegal_data_value,
// server_device_failure, acknowledge, server_device_busy,
// memory_parity_error, gateway_path_unavailable,
// gateway_target_device_failed_to_respond, or "exception" for other codes.
// Its name and op come from the paired request where the function code
// alone does not tell (43/14, the control sub-functions of 8).
//
// A PDU that does not fit its function's format (a length the format does
// not allow, a byte count that does not match the length or the quantity, a
// quantity outside the spec's range, a coil value other than 0x0000/0xFF00,
// a read response whose byte count does not cover the paired request's
// quantity, an exception code in a request, function code 0) still makes an
// event, with OK false and Error "malformed", and Decode returns an error
// wrapping dissect.ErrMalformed; an ADU shorter than its length field says
// has Error "truncated" and an error wrapping dissect.ErrTruncated. Error
// messages name the package, the function, the direction and what was
// wrong, with lengths counted over the PDU (function code and data):
// "modbus: read_holding_registers request: pdu length 4, want 5".
//
// When c.Dir is neither request nor response, the PDU is decoded in the
// direction Classify gives (as a request when that is DirUnknown, and then
// not paired), and the event's Dir is set to it.
//
// # Details
//
// Every event's Detail is a *Details, written in JSON under "modbus". Keys
// appear in this order and only when the PDU (or its paired request) has
// the field; a zero value that is present is written:
//
//	unit                 unit identifier (every PDU)
//	transaction_id       MBAP transaction id (not on RTU)
//	address              starting address (1–6, 15, 16, 22) or FIFO pointer
//	                     address (24); on responses that do not carry it, the
//	                     paired request's
//	quantity             quantity of coils or registers (1–4, 15, 16); on read
//	                     responses the paired request's
//	value                value written by 5 (0xFF00 = 65280 on, 0 off) or 6
//	and_mask, or_mask    masks of 22
//	read_address, read_quantity, write_address, write_quantity
//	                     the ranges of 23 (responses: the paired request's)
//	byte_count           the byte count field where the format has one
//	sub_function         diagnostics sub-function (8)
//	exception_code       exception responses
//	mei_type             MEI type (43)
//	read_device_id_code  43/14: 1 basic, 2 regular, 3 extended, 4 specific
//	object_id            43/14 request: the object asked for
//	conformity_level     43/14 response
//	more_follows         43/14 response: true or false
//	next_object_id       43/14 response
//	objects              43/14 response, when it has objects: a list of
//	                     {"id":N,"name":"vendor_name","value":"…"}; names for
//	                     ids 0..6 are vendor_name, product_code,
//	                     major_minor_revision, vendor_url, product_name,
//	                     model_name, user_application_name; other ids have no
//	                     name; a malformed list keeps the whole objects before
//	                     the fault
//	records              number of sub-requests or sub-responses (20, 21)
//	fifo_count           FIFO count of a 24 response
//	server_id            17 response: text when all printable ASCII, else
//	                     lower-case hex digits
//	run_indicator        17 response: "on" or "off"
//	unmatched            true on a response whose key has no outstanding
//	                     request of the same function code
//
// The server id's length is device specific: the run indicator is taken to
// be the first 0x00 or 0xFF byte after the server id's first byte (without
// one, all the data is the server id). Typed getters serve detect:
// Unit, TransactionID, Address, Quantity, Value, Masks, ReadRange,
// WriteRange, ByteCount, SubFunction, ExceptionCode, MEIType,
// ReadDeviceIDCode, ObjectID, ConformityLevel, MoreFollows, NextObjectID,
// Objects (an iterator over id and value), Records, FIFOCount, ServerID,
// RunIndicator, Unmatched, and Data (coil and register values and other
// data bytes, such as the additional data after the run indicator of 17,
// which often holds the vendor's text; not written in JSON).
//
// # Pairing
//
// Each flow has a table of its last 8 outstanding requests, found through
// Context.FlowSlot and cleared when the slot's FlowID changes, keyed by the
// transaction id (DecodePDU: the caller's key) and holding the function
// code, address, quantity, read/write ranges, sub-function and MEI type. A
// response takes the request with its key and function code, inherits the
// fields it lacks, and is checked against it; without one it is unmatched.
// When the table is full the oldest request is forgotten. A request with the
// key of an outstanding one replaces it.
//
// # Memory
//
// Decoding reads fields in place and does not allocate in steady state:
// details come from a dissect.Slab, the bytes an event keeps (objects,
// server id, data) are copied into the batch's arena with Context.Copy and
// never alias the frame, names and Error strings are static, and the
// pairing tables grow only when a new flow slot first carries Modbus. A
// malformed PDU costs its error value (one allocation; the message is
// formatted only when asked for). Stats counts requests, responses,
// exceptions, malformed and truncated PDUs and unmatched responses.
package modbus
