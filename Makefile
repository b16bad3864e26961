# Tapwire. `make demo` runs the sensor on a generated capture; `make test`
# runs every test (CI calls it through .ci/run, which installs tshark, qemu…).

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN      := bin
DIST     := dist
BENCHDIR ?= $(BIN)/bench

.PHONY: all build test unit vet fmt-check cross test-arm64 test-arm bench bench-pipeline bench-process bench-capture demo testdata clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/sensor ./cmd/sensor
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/tapgen ./cmd/tapgen

# The whole suite: format, vet, unit and integration tests (the live
# capture and serial tests need root: they make network namespaces and
# pseudo-terminals), static cross builds, and the unit tests of the stages
# for arm64 and arm v7 under qemu-user.
test: fmt-check vet unit cross test-arm64 test-arm

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...

# Static binaries for the firmware target (arm64), 32-bit ARM v7 and amd64.
cross:
	@for t in linux/arm64 linux/arm linux/amd64; do \
		os=$${t%/*}; arch=$${t#*/}; \
		echo "build $$t"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o $(DIST)/sensor-$$os-$$arch ./cmd/sensor || exit 1; \
	done
	@ls -l $(DIST)

# The stages' unit tests on arm64 (qemu-user-static). qemu-user cannot make
# packet rings or namespaces: those tests skip there (the firmware image
# tests the real ring on arm64).
test-arm64:
	CGO_ENABLED=0 GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64-static ./dissect/... ./detect/... ./drivers/... ./board/...

# On 32-bit ARM v7: the ring's block walk, the framers, and the state store
# refusing an on-disk state.
test-arm:
	CGO_ENABLED=0 GOARCH=arm GOARM=7 $(GO) test -count=1 -exec qemu-arm-static ./drivers/afpacket/ ./dissect/ ./dissect/modbus/ ./detect/store/

# Benchmarks: in-process pipeline (allocs/op, ns/packet) and the whole
# process on a generated 2M-packet capture against tshark, both on one core.
BENCH_PCAP ?= $(abspath $(BENCHDIR))/bench-2M.pcap

bench: bench-pipeline bench-process

$(BENCH_PCAP): | build
	@mkdir -p $(dir $(BENCH_PCAP))
	$(BIN)/tapgen modbus -masters 8 -plcs 32 -packets 2000000 -period 100ms -seed 1 -o $(BENCH_PCAP)

bench-pipeline: $(BENCH_PCAP)
	BENCH_PCAP=$(BENCH_PCAP) $(GO) test -run '^$$' -bench . -benchmem -count 1 ./dissect/... ./detect/... ./drivers/... ./cmd/sensor/

bench-process: build $(BENCH_PCAP)
	BENCH_PCAP=$(BENCH_PCAP) SENSOR=$(BIN)/sensor ./cmd/sensor/bench-process.sh

# Live capture against tcpdump at rising offered rates on a veth pair (root).
BENCH_CAPTURE_PCAP ?= $(abspath $(BENCHDIR))/bench-200k.pcap

$(BENCH_CAPTURE_PCAP): | build
	@mkdir -p $(dir $(BENCH_CAPTURE_PCAP))
	$(BIN)/tapgen modbus -masters 8 -plcs 32 -packets 200000 -period 100ms -seed 1 -o $(BENCH_CAPTURE_PCAP)

bench-capture: build $(BENCH_CAPTURE_PCAP)
	BENCH_PCAP=$(BENCH_CAPTURE_PCAP) SENSOR=$(BIN)/sensor TAPGEN=$(BIN)/tapgen ./cmd/sensor/bench-capture.sh

# The main job: the sensor reads a generated capture with attacks and
# prints what it found.
demo: build
	@mkdir -p $(BIN)/demo
	$(BIN)/tapgen modbus -seed 7 -duration 120s -attacks new-writer,restart,listen-only,scan -o $(BIN)/demo/plant.pcap
	$(BIN)/sensor read --learn-for 80s --emit asset,alert,stats --out $(BIN)/demo/findings.jsonl $(BIN)/demo/plant.pcap; \
		code=$$?; echo; echo "Findings (also in $(BIN)/demo/findings.jsonl):"; \
		cat $(BIN)/demo/findings.jsonl; exit $$code

# Regenerate the committed captures under testdata/ (review the diff).
testdata:
	$(GO) test ./cmd/tapgen -run TestCommittedCaptures -update

clean:
	rm -rf $(BIN) $(DIST)
