# Thin front over CMake. `make` builds build/melon and the library; `make
# install PREFIX=DIR` installs them; `make test` runs every
# test (short fuzzing runs of the stream loader, the request parser and
# checkpoint loading, the AddressSanitizer +
# UndefinedBehaviorSanitizer build, then the release build); `make demo`
# runs the main job.
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

.PHONY: all deps build install python test test-release test-sanitize test-fuzz demo bench bench-session clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

# The command, libmelon.so, libmelon.a, include/melon/melon.h and melon.pc
# under PREFIX (docs/library.md).
install: build
	@cmake --install build --prefix "$(PREFIX)"

# `import melon` for /usr/bin/python3: builds build/libmelon.so and puts
# this checkout's python/ on the user's path (a .pth file in the user site).
python: build
	@site=$$(/usr/bin/python3 -m site --user-site) && mkdir -p "$$site" && \
	  echo "$(CURDIR)/python" > "$$site/melon.pth" && \
	  echo "melon: /usr/bin/python3 imports melon from $(CURDIR)/python ($$site/melon.pth)"

test: test-fuzz test-sanitize test-release

test-release: build
	ctest --test-dir build --output-on-failure -j $(JOBS)

test-sanitize: deps
	@cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DMELON_SANITIZE=ON \
	  -DMELON_NATIVE=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-sanitize -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-sanitize --output-on-failure -j $(JOBS) -LE slow

test-fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DMELON_FUZZ=ON \
	  -DMELON_NATIVE=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_parse fuzz_events \
	  fuzz_checkpoint checkpoint_seeds
	bash fuzz/run.sh build-fuzz/fuzz/fuzz_parse 30
	bash fuzz/run.sh build-fuzz/fuzz/fuzz_events 20 fuzz/corpus-events
	@rm -rf build-fuzz/checkpoint-seeds && mkdir build-fuzz/checkpoint-seeds && \
	  build-fuzz/fuzz/checkpoint_seeds build-fuzz/checkpoint-seeds
	bash fuzz/run.sh build-fuzz/fuzz/fuzz_checkpoint 25 build-fuzz/checkpoint-seeds 400000

demo: build
	@bash scripts/demo.sh

# idle OpenMP threads sleep at once (OMP_WAIT_POLICY=passive), as in the
# README's figures, instead of spinning against the benchmark's own work
bench: build
	@for b in build/bench/bench_*; do echo "== $$b"; OMP_WAIT_POLICY=passive $$b; done
	@echo "== bench/bench_python.py"; OMP_WAIT_POLICY=passive \
	  MELON_LIBRARY=build/libmelon.so /usr/bin/python3 bench/bench_python.py

# The library session's figures alone (recommend, checkpoints, observe;
# about 80 s): docs in the README's Speed section
bench-session: build
	@OMP_WAIT_POLICY=passive build/bench/bench_session

clean:
	rm -rf build build-sanitize build-fuzz
