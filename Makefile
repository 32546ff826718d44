# zpage: `make demo` runs the demo, `make check` runs every test (a normal
# build, an AddressSanitizer+UndefinedBehaviorSanitizer build and a
# ThreadSanitizer build). Everything else is plain CMake under build*/.
JOBS ?= $(shell nproc)
CMAKE ?= cmake
CTEST_FLAGS ?= --output-on-failure --timeout 900

.PHONY: all build demo check check-default check-asan check-tsan bench clean

all: build

build:
	$(CMAKE) -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	$(CMAKE) --build build -j$(JOBS)

demo: build
	./build/examples/zpage-demo

check: check-default check-asan check-tsan

check-default: build
	cd build && ctest $(CTEST_FLAGS)

# Sanitizer builds leave out the tests labelled "heavy" (minutes under a
# sanitizer, and they test capacity rather than memory or thread safety).
check-asan:
	$(CMAKE) -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DZPAGE_SANITIZE=address -DZPAGE_BENCH=OFF
	$(CMAKE) --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 ctest $(CTEST_FLAGS) -LE heavy

check-tsan:
	$(CMAKE) -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DZPAGE_SANITIZE=thread -DZPAGE_BENCH=OFF
	$(CMAKE) --build build-tsan -j$(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest $(CTEST_FLAGS) -LE heavy

bench: build
	./build/bench/fault_cost

clean:
	rm -rf build build-asan build-tsan
