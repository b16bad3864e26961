// Package drivers brings frames into the sensor. Every input — capture files,
// the AF_PACKET ring, a serial tap — implements Source and hands out Frames
// stamped with packet time. Frame data belongs to the source and stays valid
// only until the next call to Next: the next stage copies what it keeps.
package drivers
