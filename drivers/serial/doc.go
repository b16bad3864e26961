// Package serial taps serial lines (RS-485 Modbus RTU) passively, for
// `sensor run --serial PORT[:BAUD[:8N1]]`, and writes RTU captures.
//
// # Ports
//
// A Config names a device (/dev/ttyS1), the port's name in addresses
// (default the device's base name, ttyS1: events read serial:ttyS1/17 and
// serial:ttyS1/master, never a path) and its line settings (default
// 19200 baud 8E1, the Modbus defaults). Parse reads the command line's
// [NAME=]DEVICE[:BAUD[:8N1]]. Every configuration error wraps ErrConfig
// and names the port: "serial: /dev/ttyS9: no such device", "serial:
// /dev/ttyS1: baud rate 9601 is not supported (want one of 1200, …)";
// `sensor run` exits with 78 on them.
//
// OpenPort opens a device with github.com/tarm/serial (Linux; elsewhere it
// returns ErrNotSupported). tarm/serial counts its read timeout in steps
// of 0.1 s, so reads return what has arrived, in chunks that cut frames
// anywhere, or nothing after ReadTimeout (100 ms) of silence; frame
// boundaries are the framer's business (dissect/modbus.RTUFramer: length
// rules and CRC, silence as a hint). A hung-up tty, a read error or a
// device path that disappeared means the port is gone.
//
// # The tap
//
// Open starts one goroutine per port that reads, stamps each chunk with the
// time its read returned, and feeds the port's Framer (for Modbus RTU
// dissect/modbus.RTURecorder, given through Options.NewFramer, so that
// drivers import no dissector); the records it completes reach Next, a
// drivers.Source, in order, with Link LINKTYPE_RTAC_SERIAL, Input the
// port's number and TS the arrival time of the record's last byte. A port
// that disappears is reported (Options.Report, else logged), closed, and
// reopened with backoff when it returns; its framer starts afresh. The
// Port interface (and Options.Open) lets tests run the tap on a fake.
//
// sensor run wires it so:
//
//	cfgs := []serial.Config{...} // from --serial (serial.Parse) or the config file
//	tap, err := serial.Open(ctx, cfgs, serial.Options{
//		FirstInput: k, // after the network inputs
//		NewFramer: func(c serial.Config) serial.Framer {
//			return modbus.NewRTURecorder(modbus.RTUConfig{Baud: c.Baud, CharBits: c.CharBits()})
//		},
//		Logger: log,
//	})
//	// errors.Is(err, serial.ErrConfig): exit 78
//	names := make([]string, k+len(cfgs)) // Input → port name
//	copy(names[k:], tap.Ports())
//	engine.HandleLink(drivers.LinkRTACSerial, modbus.NewRTUHandler(names))
//	// and, with a capture requested: serial.NewCapture(w, tap.Configs()),
//	// then capture.WriteFrame(f.Input-k, &f) for every frame of the tap.
//
// # RTU captures
//
// An RTU capture is a pcapng file with one interface per port: link type
// LINKTYPE_RTAC_SERIAL (250), if_name the port's name, if_description its
// line settings ("19200 8E1"), if_speed its baud rate, nanosecond
// timestamps. Each enhanced packet block holds one record: the 12-byte
// RTAC serial header (time in seconds and microseconds, big-endian; an
// event type; control lines and footer 0) and one Modbus RTU ADU
// (address, PDU, CRC), or bytes the framer skipped. The event type says
// which: 0x03 DATA_TX_END an ADU the master sent (a request), 0x04
// DATA_RX_END one a slave sent (a response), 0x07 FRAMING_ERROR a frame
// whose CRC fails, 0x05 CAPTURE_DATA_LOST a frame cut short, 0x08
// PARITY_ERROR noise. ADU records also carry their direction in epb_flags
// (outbound from the master, inbound to it), which tshark shows as
// frame.p2p_dir. The packet time is the arrival of the record's last byte.
//
// LINKTYPE_RTAC_SERIAL rather than a user link type (147–162): tshark
// knows it, its rtacser dissector hands the bytes after the header to the
// protocol chosen with Decode As (mbrtu) with no preference to set, and
// the header keeps the direction, which tshark's mbrtu cannot tell for
// echoed functions (5, 6, 8, 21, 22) and pcapgo's reader does not return
// from epb_flags. A user link type would need a UAT
// (-o 'uat:user_dlts:"User 0 (DLT=147)","mbrtu","0","","0",""') and
// would lose the direction. One interface per port keeps the port's name,
// which `sensor read` takes from pcapfile's Multi.Interface.
//
// tshark reads an RTU capture with
//
//	tshark -r rtu.pcapng -d rtacser.data,mbrtu
//
// and its ADUs alone (without the skipped bytes, which mbrtu would also
// try to read) with
//
//	tshark -r rtu.pcapng -d rtacser.data,mbrtu -Y 'rtacser.eventtype == 3 || rtacser.eventtype == 4'
//
// e.g. -T fields -e frame.interface_name -e rtacser.eventtype -e
// mbrtu.unit_id -e modbus.func_code -e modbus.exception_code.
package serial
