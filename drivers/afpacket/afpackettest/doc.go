// Package afpackettest builds what the real-kernel capture tests need: two
// fresh network namespaces joined by a veth pair, a raw sender on one end,
// and test frames. Everything lives in namespaces the test creates and is
// gone when the test ends (the namespaces are held only by file
// descriptors, so no name is left in /run/netns and nothing outside them
// sees a frame). Linux only; NewVeth skips the test when not root.
package afpackettest
