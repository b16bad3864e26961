package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tapwire/tapwire/detect"
	"github.com/tapwire/tapwire/detect/output"
	"github.com/tapwire/tapwire/dissect"
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
