// Package dissect turns frames into events: it decodes layers 2 to 4 with
// gopacket's DecodingLayerParser into preallocated layers, keeps a bounded
// flow table on packet time, frames TCP byte streams into PDUs per
// direction, and hands PDUs to protocol dissectors (dissect/modbus, …) that
// implement the Dissector contract. Events leave in batches (Batch) through a
// Sink; nothing on this path allocates in steady state.
package dissect
