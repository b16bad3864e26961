//go:build !linux

package main

import (
	"fmt"
	"runtime"
)

// injectFile fails: AF_PACKET TX rings exist only on Linux.
func injectFile(cfg injectConfig, frames [][]byte) (injectResult, error) {
	return injectResult{}, fmt.Errorf("AF_PACKET: %w (GOOS %s)", errInjectUnsupported, runtime.GOOS)
}
