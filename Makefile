# imggen — GNU make, one Makefile, out-of-tree objects under $(BUILD).
# `make help` lists the targets.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
SYSCONFDIR ?= /etc
DESTDIR    ?=
CC         ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS     ?= -O2 -g
BUILD      ?= build/default

PKGS       = libpq json-c libcurl openssl uuid fcgi zlib
WARN       = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wmissing-declarations -Wpointer-arith -Wcast-qual -Wformat=2 -Wvla -Wundef
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || echo -lpq -ljson-c -lcurl -lssl -lcrypto -luuid -lfcgi -lz)
IG_CFLAGS  = -std=c17 -D_POSIX_C_SOURCE=200809L -pthread $(WARN) -MMD -MP -Ifcgi-app/lib $(DEP_CFLAGS) \
             -DIMGGEN_DEFAULT_SQL_DIR='"$(DATADIR)/imggen/sql"' \
             -DIMGGEN_DEFAULT_CONFIG='"$(SYSCONFDIR)/imggen/imggen.env"'
ALL_CFLAGS = $(IG_CFLAGS) $(CFLAGS)
ALL_LIBS   = $(DEP_LIBS) -lm -pthread $(LDLIBS)
TEST_LIBS  = -lcriterion

LIB_SRC    = $(wildcard fcgi-app/lib/*.c)
API_SRC    = $(wildcard fcgi-app/responder/*.c)
WORKER_SRC = $(wildcard fcgi-app/worker/*.c)
ADMIN_SRC  = $(wildcard fcgi-app/admin/*.c)
UNIT_SRC   = $(wildcard tests/unit/*.c)
ITEST_SRC  = $(wildcard tests/integration/*.c) $(wildcard tests/lib/*.c)
OUTAGE_SRC = $(wildcard tests/integration/outage/*.c) $(wildcard tests/lib/*.c)
S3_SRC     = $(wildcard tests/s3/*.c)
PROV_SRC   = $(wildcard tests/providers/*.c) $(wildcard tests/lib/*.c)
SEC_SRC    = $(wildcard tests/security/*.c) $(wildcard tests/lib/*.c)

# `make V=1` shows the full command lines.
ifeq ($(V),1)
Q =
else
Q = @
endif

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB        = $(BUILD)/libimggen.a
BINS       = $(BUILD)/imggen-api $(BUILD)/imggen-worker $(BUILD)/imggen-admin
UNIT_BIN   = $(BUILD)/test-unit
ITEST_BIN  = $(BUILD)/test-integration
OUTAGE_BIN = $(BUILD)/test-outage
S3_BIN     = $(BUILD)/test-s3
PROV_BIN   = $(BUILD)/test-providers
SEC_BIN    = $(BUILD)/test-security

.DELETE_ON_ERROR:
.PHONY: all help test unit check check-docs asan valgrind run stop clean lint

all: $(BINS)

help:
	@echo 'make            build the three binaries into $(BUILD)/'
	@echo 'make run        bring up the whole stack under var/ and submit a generation'
	@echo 'make stop       stop what make run started'
	@echo 'make test       unit tests; integration tests against a private stack; providers (stand-in) and s3 (s3rver)'
	@echo 'make unit       unit tests only'
	@echo 'make asan       make test built with AddressSanitizer + UBSan (build/asan)'
	@echo 'make valgrind   unit + integration tests under valgrind (build/valgrind)'
	@echo 'make lint       banned functions, PQ calls and fcgiapp.h outside their modules'
	@echo 'make check-docs config keys, error codes and statuses documented'
	@echo 'make check      lint + check-docs + test'
	@echo 'make clean      remove build/'

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Ifcgi-app/responder -Itests/lib -c $< -o $@

$(LIB): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/imggen-api: $(call obj,$(API_SRC)) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS)

$(BUILD)/imggen-worker: $(call obj,$(WORKER_SRC)) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS)

$(BUILD)/imggen-admin: $(call obj,$(ADMIN_SRC)) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS)

# The responder's handlers are unit-tested directly: link its objects minus main.
API_TESTABLE = $(call obj,$(filter-out fcgi-app/responder/main.c,$(API_SRC)))

$(UNIT_BIN): $(call obj,$(UNIT_SRC)) $(API_TESTABLE) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS) $(TEST_LIBS)

$(ITEST_BIN): $(call obj,$(ITEST_SRC)) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS) $(TEST_LIBS)

$(OUTAGE_BIN): $(call obj,$(OUTAGE_SRC)) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS) $(TEST_LIBS)

$(S3_BIN): $(call obj,$(S3_SRC)) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS) $(TEST_LIBS)

$(PROV_BIN): $(call obj,$(PROV_SRC)) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS) $(TEST_LIBS)

$(SEC_BIN): $(call obj,$(SEC_SRC)) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS) $(TEST_LIBS)

unit: $(UNIT_BIN)
	$(UNIT_BIN) $(CRITERION_ARGS)

test: all $(UNIT_BIN) $(ITEST_BIN) $(OUTAGE_BIN) $(S3_BIN) $(PROV_BIN) $(SEC_BIN)
	$(UNIT_BIN) $(CRITERION_ARGS)
	bash scripts/test-integration.sh $(BUILD) $(ITEST_BIN) $(API_ITEST_BIN) $(SEC_BIN) \
		tests/security/tls.sh $(OUTAGE_BIN)
	bash scripts/test-providers.sh $(BUILD) $(S3_BIN) $(PROV_BIN)
	@# The fault suite measures recovery times; it runs on the plain build only.
	$(if $(filter build/asan,$(BUILD)),@echo "test-faults: skipped in the sanitizer build",$(MAKE) --no-print-directory test-faults)

# Sanitizer runs fail on reports in the log files, not on exit statuses.
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan:
	rm -rf build/asan/san && mkdir -p build/asan/san
	$(MAKE) BUILD=build/asan CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" all \
		build/asan/test-unit build/asan/test-integration build/asan/test-outage \
		build/asan/test-api build/asan/test-s3 build/asan/test-providers \
		build/asan/test-security
	ASAN_OPTIONS=log_path=$(CURDIR)/build/asan/san/asan:detect_leaks=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	UBSAN_OPTIONS=log_path=$(CURDIR)/build/asan/san/ubsan:print_stacktrace=1:halt_on_error=1 \
	$(MAKE) BUILD=build/asan CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" test
	bash scripts/san-gate.sh build/asan/san
	@# Positive control: the gate must catch a planted leak.
	$(CC) $(SAN_FLAGS) tests/san/selftest.c -o build/asan/san-selftest
	rm -rf build/asan/san-control && mkdir -p build/asan/san-control
	-ASAN_OPTIONS=log_path=$(CURDIR)/build/asan/san-control/asan:detect_leaks=1 build/asan/san-selftest
	! bash scripts/san-gate.sh build/asan/san-control >/dev/null 2>&1
	@echo "asan: the gate caught the planted leak (positive control)"

# `make valgrind`: the unit tests, then the integration suites of `make test` (test-integration,
# test-api, test-security, tls.sh) against a stack whose services -- the responders, the worker's
# supervisor and children, imggen-admin -- run under valgrind memcheck (IMGGEN_VALGRIND, see
# scripts/stack.sh). The unit tests and the test binaries named in VALGRIND_TESTS run under it
# too, Criterion's test processes included (they re-execute the binary: --trace-children, but not
# into the shells the tests start). test-integration runs natively by default: its 166 test
# processes would add about 15 minutes of valgrind start-up (VALGRIND_TESTS=all to include it).
# Every process logs to build/valgrind/vg/ROLE.PID.log; scripts/valgrind-gate.sh fails on any
# error, definite or indirect leak, crash or missing summary. The outage and fault suites (timing,
# killed processes) stay in make test. docs/operations.md, "make valgrind".
VALGRIND_TESTS ?= test-api test-security
VG_LOGS   = $(CURDIR)/build/valgrind/vg
VG_OPTS   = --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --show-leak-kinds=definite,indirect --num-callers=30 --read-inline-info=no \
            --suppressions=$(CURDIR)/tests/valgrind.supp
VG_TRACE  = --trace-children=yes --trace-children-skip='/bin/*,/usr/*,*.sh'
VG_ITESTS = build/valgrind/test-integration build/valgrind/test-api build/valgrind/test-security
valgrind:
	$(MAKE) BUILD=build/valgrind CFLAGS="-O0 -g" all build/valgrind/test-unit $(VG_ITESTS)
	rm -rf $(VG_LOGS) && mkdir -p $(VG_LOGS)
	valgrind $(VG_OPTS) $(VG_TRACE) --log-file=$(VG_LOGS)/test-unit.%p.log build/valgrind/test-unit -j2
	IMGGEN_VALGRIND=$(VG_LOGS) IMGGEN_VALGRIND_TESTS="$(VALGRIND_TESTS)" \
		bash scripts/test-integration.sh build/valgrind $(VG_ITESTS) tests/security/tls.sh
	bash scripts/valgrind-gate.sh $(VG_LOGS)
	@# Positive controls: the gate must catch a planted leak, and a service process that was
	@# killed before valgrind could write its summary (its leaks would go unseen).
	$(CC) -O0 -g tests/san/selftest.c -o build/valgrind/selftest
	rm -rf build/valgrind/vg-control build/valgrind/vg-killed
	mkdir -p build/valgrind/vg-control build/valgrind/vg-killed
	valgrind $(VG_OPTS) --log-file=$(CURDIR)/build/valgrind/vg-control/test-selftest.%p.log \
		build/valgrind/selftest
	! bash scripts/valgrind-gate.sh build/valgrind/vg-control >build/valgrind/vg-control.out 2>&1
	grep -q 'errors or leaks' build/valgrind/vg-control.out
	@# (a SIGKILL from outside: valgrind turns a process's kill of itself into a normal exit)
	valgrind $(VG_OPTS) --log-file=$(CURDIR)/build/valgrind/vg-killed/worker.%p.log sleep 60 & \
	pid=$$!; log=build/valgrind/vg-killed/worker.$$pid.log; \
	for i in $$(seq 300); do grep -qs 'Parent PID' $$log && break; sleep 0.1; done; \
	kill -KILL $$pid; wait $$pid; grep -qs 'Parent PID' $$log
	! bash scripts/valgrind-gate.sh build/valgrind/vg-killed >build/valgrind/vg-killed.out 2>&1
	grep -q 'no summary' build/valgrind/vg-killed.out
	@echo "valgrind: the gate caught the planted leak and the killed process (positive controls)"

run:
	bash scripts/run.sh

stop:
	bash scripts/stop.sh

lint:
	bash scripts/lint.sh

check-docs:
	bash scripts/check-docs.sh

check: lint check-docs test

clean:
	rm -rf build

# Larger target groups live in their own files (fuzzing, install, packaging, benchmarks).
-include $(sort $(wildcard mk/*.mk))

-include $(shell find $(BUILD)/obj -type f -name '*.d' 2>/dev/null)
