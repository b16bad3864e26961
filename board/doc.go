// Package board is the stage that touches the sensor's hardware: the capture
// interfaces (board/netif), and later the hardware watchdog, the status LEDs,
// privilege dropping and storage quotas (BRIEF.md section 8).
//
// Every kernel or hardware touchpoint sits behind a small interface with a
// fake in a *test package (board/netif/netiftest), so the daemon's unit tests
// run anywhere; real-kernel tests run in network namespaces they create and
// remove, in files named kernel_linux_test.go, their tests named TestKernel….
package board
