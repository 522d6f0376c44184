# mk/fuzz.mk — the libFuzzer harnesses of tests/fuzz/ (one per parser of outside input), built
# with clang, AddressSanitizer and UndefinedBehaviorSanitizer into build/fuzz/.  Included by the
# top-level Makefile, whose LIB_SRC, API_TESTABLE, IG_CFLAGS and DEP_LIBS it uses unchanged.
#
#   make fuzz            build, then fuzz every harness for FUZZ_SECONDS (default 60) in turn
#   make fuzz-smoke      build, replay tests/fuzz/regressions/, fuzz every harness 10 s (CI)
#   make fuzz-regress    build and replay tests/fuzz/regressions/<harness>/* only
#   make fuzz-build      build only
#   FUZZ_ONLY="router auth" limits any of them to those harnesses.
# Any crash, sanitizer report, leak, timeout or broken invariant fails the target; its input is
# left in build/fuzz/artifacts/<harness>/.  Figures: docs/security.md, "Fuzzing".
# Needs clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_ONLY    ?=
FUZZ_DIR      = build/fuzz
FUZZ_SAN      = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=all
FUZZ_SRC      = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS     = $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(FUZZ_SRC))

.PHONY: fuzz fuzz-smoke fuzz-regress fuzz-build fuzz-bins

fuzz-build:
	$(MAKE) BUILD=$(FUZZ_DIR) CC=$(FUZZ_CC) CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
		LDFLAGS="-fsanitize=fuzzer,address,undefined" fuzz-bins

fuzz-bins: $(FUZZ_BINS)

# Kept, so that a rebuild after a change compiles only what changed.
.SECONDARY: $(patsubst tests/fuzz/%.c,$(BUILD)/obj/tests/fuzz/%.o,$(FUZZ_SRC)) \
            $(BUILD)/obj/tests/fuzz/fake_pq.o

# The harnesses call the responder's handlers directly: its objects minus main, as for test-unit.
$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(API_TESTABLE) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS)

# fuzz_router answers the database from a table (tests/fuzz/fake_pq.c) instead of libpq.
$(BUILD)/fuzz_router: $(BUILD)/obj/tests/fuzz/fake_pq.o

fuzz: fuzz-build
	bash scripts/fuzz.sh run $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_ONLY)

fuzz-smoke: fuzz-build
	bash scripts/fuzz.sh regress $(FUZZ_DIR) $(FUZZ_ONLY)
	bash scripts/fuzz.sh run $(FUZZ_DIR) 10 $(FUZZ_ONLY)

fuzz-regress: fuzz-build
	bash scripts/fuzz.sh regress $(FUZZ_DIR) $(FUZZ_ONLY)
