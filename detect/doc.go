// Package detect turns events into the asset inventory, alerts and (later)
// risk. Engine is the dissect.Sink at the end of the pipeline: it consumes
// event batches in order, writes the records (output), keeps the inventory
// (detect/inventory), groups alerts (detect/alert) and keeps what the rules
// learn in the state store (detect/store).
//
// All detection runs on packet time, never the wall clock, so replay and
// live capture behave the same.
//
// Modes (BRIEF 3): learn only learns; detect scores against what was learned
// before and learns nothing; auto learns for LearnFor of packet time from the
// first PDU the state ever saw (kept in the state, so a later run with the
// same state continues where the window stands), then detects. Rules for
// dangerous operations alert in every mode but learn.
//
// Rules (kind, severity 0–100, ATT&CK for ICS techniques):
//
//	modbus_new_writer       80  T0855 T0836  a Modbus client writes (function codes 5, 6, 15, 16, 21, 22, 23)
//	                                         but was not seen writing during learning; grouped per (client,
//	                                         server). Detect phase only.
//	modbus_restart          85  T0816        Diagnostics (8) sub-function 1, Restart Communications Option;
//	                                         grouped per (client, server). Every mode but learn.
//	modbus_listen_only      90  T0814 T0804  Diagnostics (8) sub-function 4, Force Listen Only Mode: the
//	                                         device stops answering; grouped per (client, server). Every
//	                                         mode but learn.
//	modbus_exception_burst  60  T0846 T0814  at least Threshold exception responses (default 20) from one
//	                                         server to one client within Window of packet time (default
//	                                         10 s): a unit-id or address scan, or a device in distress;
//	                                         grouped per (client, server), count = exceptions. Every mode
//	                                         but learn.
package detect
