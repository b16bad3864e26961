package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/net/bpf"

	"github.com/tapwire/tapwire/detect"
	"github.com/tapwire/tapwire/detect/output"
	"github.com/tapwire/tapwire/dissect"
	"github.com/tapwire/tapwire/drivers/afpacket"
	"github.com/tapwire/tapwire/drivers/serial"
)

// configVersion is the config file version this sensor reads.
const configVersion = 1

// Config is the sensor's configuration file (YAML). Unknown keys are
// rejected; every key is optional except version. The defaults live in
// defaultConfig, and README.md shows them as a file.
type Config struct {
	Version int    `yaml:"version"`
	Sensor  string `yaml:"sensor"`
	Site    string `yaml:"site"`
	State   string `yaml:"state"`
	Output  struct {
		File string   `yaml:"file"`
		Emit []string `yaml:"emit"`
	} `yaml:"output"`
	Detect struct {
		Mode                 string   `yaml:"mode"`
		LearnFor             Duration `yaml:"learn_for"`
		AlertInterval        Duration `yaml:"alert_interval"`
		ModbusExceptionBurst struct {
			Window    Duration `yaml:"window"`
			Threshold int      `yaml:"threshold"`
		} `yaml:"modbus_exception_burst"`
	} `yaml:"detect"`
	Flows struct {
		Max        int      `yaml:"max"`
		TCPIdle    Duration `yaml:"tcp_idle"`
		UDPIdle    Duration `yaml:"udp_idle"`
		ClosedIdle Duration `yaml:"closed_idle"`
	} `yaml:"flows"`
	TCP struct {
		HoleTimeout Duration `yaml:"hole_timeout"`
		SegmentPool int      `yaml:"segment_pool"`
	} `yaml:"tcp"`
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`

	// Live capture (sensor run). Changing these needs a restart.
	Capture struct {
		Interfaces    []string `yaml:"interfaces"`
		Workers       int      `yaml:"workers"`
		BlockSize     ByteSize `yaml:"block_size"`
		NumBlocks     int      `yaml:"num_blocks"`
		FrameSize     ByteSize `yaml:"frame_size"`
		Snaplen       int      `yaml:"snaplen"`
		Prepare       bool     `yaml:"prepare"`
		KeepAddresses bool     `yaml:"keep_addresses"`
		// BPF is a classic BPF filter as `tcpdump -ddd EXPRESSION` prints
		// it: the instruction count, then "code jt jf k" per line.
		BPF string `yaml:"bpf"`
	} `yaml:"capture"`
	Serial struct {
		Ports   []string `yaml:"ports"`
		Capture string   `yaml:"capture"`
	} `yaml:"serial"`
	Run struct {
		StatsInterval Duration `yaml:"stats_interval"`
		SaveInterval  Duration `yaml:"save_interval"`
	} `yaml:"run"`
	Metrics string `yaml:"metrics"`
}

// ByteSize is a size in bytes written as a number or with a binary unit:
// 65536, 64KiB, 1MiB.
type ByteSize int

// UnmarshalYAML parses a size.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a size such as 1MiB or 65536", n.Line)
	}
	v, err := parseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = ByteSize(v)
	return nil
}

// parseBPF reads a classic BPF program in the decimal form `tcpdump -ddd`
// prints: the number of instructions, then one "code jt jf k" line each.
// An empty text is no filter.
func parseBPF(text string) ([]bpf.RawInstruction, error) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return nil, nil
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n < 1 || n > 4093 || len(fields) != 1+4*n {
		return nil, fmt.Errorf("want the output of tcpdump -ddd: an instruction count, then four numbers per instruction")
	}
	prog := make([]bpf.RawInstruction, n)
	for i := range prog {
		var v [4]uint64
		for j := range v {
			x, err := strconv.ParseUint(fields[1+4*i+j], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("instruction %d: %q is not a number", i+1, fields[1+4*i+j])
			}
			v[j] = x
		}
		if v[0] > 0xffff || v[1] > 0xff || v[2] > 0xff {
			return nil, fmt.Errorf("instruction %d: a field out of range", i+1)
		}
		prog[i] = bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
	}
	return prog, nil
}

func parseByteSize(s string) (int, error) {
	mult := 1
	num := s
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.Atoi(num)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a size (use e.g. 65536, 64KiB, 1MiB)", s)
	}
	return v * mult, nil
}

// defaultConfig is the one place the defaults are set.
func defaultConfig() *Config {
	c := &Config{Version: configVersion}
	c.Output.Emit = []string{"event", "asset", "alert", "risk", "stats"}
	c.Detect.Mode = "auto"
	c.Detect.LearnFor = Duration(detect.DefaultConfig.LearnFor)
	c.Detect.AlertInterval = Duration(detect.DefaultConfig.AlertInterval)
	c.Detect.ModbusExceptionBurst.Window = Duration(detect.DefaultConfig.ExceptionWindow)
	c.Detect.ModbusExceptionBurst.Threshold = detect.DefaultConfig.ExceptionThreshold
	c.Flows.Max = dissect.DefaultFlowConfig.MaxFlows
	c.Flows.TCPIdle = Duration(dissect.DefaultFlowConfig.TCPIdle)
	c.Flows.UDPIdle = Duration(dissect.DefaultFlowConfig.UDPIdle)
	c.Flows.ClosedIdle = Duration(dissect.DefaultFlowConfig.ClosedIdle)
	c.TCP.HoleTimeout = Duration(dissect.DefaultConfig.HoleTimeout)
	c.TCP.SegmentPool = dissect.DefaultConfig.SegmentPool
	c.Log.Level = "info"
	c.Log.Format = "text"
	c.Capture.Workers = 1
	c.Capture.BlockSize = ByteSize(afpacket.DefaultBlockSize)
	c.Capture.NumBlocks = 8 // 8 MiB a ring: 64 ms of a saturated 1 GbE port, and room for a fanout of 4 in the memory budget
	c.Capture.FrameSize = ByteSize(afpacket.DefaultFrameSize)
	c.Capture.Snaplen = afpacket.DefaultSnaplen
	c.Capture.Prepare = true
	c.Run.StatsInterval = Duration(10 * time.Second)
	c.Run.SaveInterval = Duration(time.Minute)
	return c
}

// Duration is a YAML duration written like Go's: 10s, 5m, 1h30m.
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 10s, 5m or 1h", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v <= 0 {
		return fmt.Errorf("line %d: %q is not a positive duration (use e.g. 10s, 5m, 1h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// errConfigAbsent marks a config file that does not exist (as opposed to
// one that is invalid).
var errConfigAbsent = errors.New("config file does not exist")

var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// loadConfig reads and validates the config file at path over the defaults.
func loadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, errConfigAbsent)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := defaultConfig()
	c.Version = 0
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %s", path, yamlError(err))
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// yamlError rewrites yaml's messages for a plant engineer: no Go type names.
func yamlError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = unknownField.ReplaceAllString(m, `unknown key "$1"`)
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

func (c *Config) validate() error {
	switch {
	case c.Version == 0:
		return fmt.Errorf("key version: missing (this sensor reads version %d)", configVersion)
	case c.Version != configVersion:
		return fmt.Errorf("key version: %d is not supported (this sensor reads version %d)", c.Version, configVersion)
	}
	if _, err := detect.ParseMode(c.Detect.Mode); err != nil {
		return fmt.Errorf("key detect.mode: %w", err)
	}
	if _, err := output.ParseEmit(strings.Join(c.Output.Emit, ",")); err != nil {
		return fmt.Errorf("key output.emit: %w", err)
	}
	if c.Detect.ModbusExceptionBurst.Threshold < 1 {
		return fmt.Errorf("key detect.modbus_exception_burst.threshold: must be at least 1")
	}
	if c.Flows.Max < 16 {
		return fmt.Errorf("key flows.max: %d is too small (at least 16)", c.Flows.Max)
	}
	if c.TCP.SegmentPool < 0 {
		return fmt.Errorf("key tcp.segment_pool: must not be negative")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("key log.level: %q (want debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("key log.format: %q (want text or json)", c.Log.Format)
	}
	if c.Capture.Workers < 1 || c.Capture.Workers > 64 {
		return fmt.Errorf("key capture.workers: %d (want 1 to 64)", c.Capture.Workers)
	}
	if c.Capture.NumBlocks < 1 {
		return fmt.Errorf("key capture.num_blocks: must be at least 1")
	}
	if c.Capture.Snaplen < 64 || c.Capture.Snaplen > 262144 {
		return fmt.Errorf("key capture.snaplen: %d (want 64 to 262144)", c.Capture.Snaplen)
	}
	if _, err := parseBPF(c.Capture.BPF); err != nil {
		return fmt.Errorf("key capture.bpf: %w", err)
	}
	for _, p := range c.Serial.Ports {
		if _, err := serial.Parse(p); err != nil {
			return fmt.Errorf("key serial.ports: %w", err)
		}
	}
	return nil
}

func (c *Config) detectConfig() detect.Config {
	m, _ := detect.ParseMode(c.Detect.Mode)
	return detect.Config{
		Mode:               m,
		LearnFor:           int64(c.Detect.LearnFor),
		ExceptionWindow:    int64(c.Detect.ModbusExceptionBurst.Window),
		ExceptionThreshold: c.Detect.ModbusExceptionBurst.Threshold,
		AlertInterval:      int64(c.Detect.AlertInterval),
	}
}

func (c *Config) dissectConfig() dissect.Config {
	return dissect.Config{
		Flows: dissect.FlowConfig{
			MaxFlows:   c.Flows.Max,
			TCPIdle:    int64(c.Flows.TCPIdle),
			UDPIdle:    int64(c.Flows.UDPIdle),
			ClosedIdle: int64(c.Flows.ClosedIdle),
		},
		HoleTimeout: int64(c.TCP.HoleTimeout),
		SegmentPool: c.TCP.SegmentPool,
	}
}
