# mk/bench.mk — `make bench` (issue "Speed you can prove"): the benchmark suite of tests/bench/.
# Included by the top-level Makefile, whose BUILD, LIB, API_TESTABLE, ALL_LIBS, Q and obj it uses.
# Never part of `make test`.
#
#   make bench              release build into build/release (CFLAGS="-O2 -g -DNDEBUG"), then
#                           tests/bench/run.sh: its own private stack (PostgreSQL with fsync and
#                           synchronous_commit on), each measurement after a warm-up, one table on
#                           stdout and build/bench/results.json.  About 6 minutes on 2 cores.
#   make bench BENCH_FULL=1 longer runs, the whole drain, the 1,000,000-job growth case and
#                           100,000 requests per responder (about 30 minutes).
#   BENCH_ONLY="ceiling get"  only those phases (ceiling get post callgrind drain latency inflight
#                           growth render memory); BENCH_DURATION / BENCH_WARMUP in seconds.
#   make bench-build        only the binaries.

BENCH_BUILD  ?= build/release
BENCH_CFLAGS ?= -O2 -g -DNDEBUG
BENCH_BINS    = $(BUILD)/bench-render $(BUILD)/bench-api

.PHONY: bench bench-build bench-bins

$(BUILD)/bench-render: $(call obj,tests/bench/bench_render.c) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS)

$(BUILD)/bench-api: $(call obj,tests/bench/bench_api.c) $(API_TESTABLE) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS)

bench-bins: all $(BENCH_BINS)

bench-build:
	$(MAKE) BUILD=$(BENCH_BUILD) CFLAGS="$(BENCH_CFLAGS)" bench-bins

bench: bench-build
	bash tests/bench/run.sh $(BENCH_BUILD)
