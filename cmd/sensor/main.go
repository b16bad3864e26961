// Command sensor is the Tapwire OT security sensor: it dissects industrial
// protocols from capture files (and, in later builds, live interfaces and
// serial lines), keeps an asset inventory and raises alerts mapped to MITRE
// ATT&CK for ICS. See README.md and BRIEF section 3 for the contract.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
)

// Set by the build (-ldflags -X main.version=… -X main.commit=…).
var (
	version = "dev"
	commit  = ""
)

// Exit codes (sysexits).
const (
	exitOK         = 0
	exitFailure    = 1  // an internal error
	exitDamaged    = 2  // a damaged input file
	exitUsage      = 64 // EX_USAGE
	exitNoInput    = 66 // EX_NOINPUT: input missing, unreadable or of an unsupported link type
	exitCantCreate = 73 // EX_CANTCREAT: the output file cannot be created
	exitIOErr      = 74 // EX_IOERR: writing the output failed (disk full, closed pipe)
	exitConfig     = 78 // EX_CONFIG: a bad config file or state directory
)

const usage = `Tapwire OT security sensor.

Usage:
  sensor run [flags]            the daemon: capture interfaces and serial lines
  sensor read [flags] FILE...   analyse capture files (pcap, pcapng) as if live
  sensor version                print the version
  sensor help [COMMAND]         show help

Run 'sensor help run' or 'sensor help read' for their flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program, testable: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "read":
		return cmdRead(args[1:], stdout, stderr)
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "sensor %s%s %s %s/%s\n", version, commitSuffix(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	case "help", "--help", "-help", "-h":
		if len(args) > 1 && args[1] == "read" {
			fmt.Fprint(stdout, readUsage)
			return exitOK
		}
		if len(args) > 1 && args[1] == "run" {
			fmt.Fprint(stdout, runUsage)
			return exitOK
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "sensor: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

func commitSuffix() string {
	if commit == "" {
		return ""
	}
	return " (" + commit + ")"
}
