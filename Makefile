# flint: `make run` and `make test` work on a fresh Debian 12 machine (as root): both install
# what is missing, configure and build first.
.PHONY: all deps build run test test-asan test-arm64 fuzz-smoke ci clean

JOBS ?= $(shell nproc)

all: build

deps:
	scripts/install-deps

build: deps
	cmake --preset release
	cmake --build --preset release -j $(JOBS)

# flint's main job on the bundled demo model: load it and write text with it (scripts/demo).
run: build
	scripts/demo build

# Every test, through ctest.
test: build
	ctest --preset release

# The unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan

# The kernel and block-format tests cross-built for AArch64 and run under qemu-user.
test-arm64: deps
	cmake --preset arm64
	cmake --build --preset arm64 -j $(JOBS)
	ctest --preset arm64

# A short libFuzzer run of the GGUF parser (FUZZ_SECONDS, default 60), seeded from fixtures.
FUZZ_SECONDS ?= 60
fuzz-smoke: build
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)
	scripts/fuzz-smoke build-fuzz $(FUZZ_SECONDS)

# What CI runs: sanitizers, Arm and the fuzzer first, the full test suite last (its summary ends
# the log).
ci: test-asan test-arm64 fuzz-smoke test

clean:
	rm -rf build build-asan build-arm64 build-fuzz
