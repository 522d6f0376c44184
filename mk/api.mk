# mk/api.mk — the API contract tests (tests/api/): every route and error of the HTTP API, its
# concurrency guarantees (idempotency, per-user limits) and every answer checked against
# docs/openapi.yaml. Included by the top-level Makefile, whose LIB, ALL_LIBS, TEST_LIBS, BUILD and
# obj it uses unchanged; objects come from its generic $(BUILD)/obj/%.o rule.
#
#   make test-api    build $(BUILD)/test-api and run it against a fresh private stack
#                    (scripts/test-integration.sh, like the other integration binaries)
#
# By hand against a running stack, from the repository root (the tests read docs/openapi.yaml, or
# $IMGGEN_OPENAPI, and pause the worker through $IMGGEN_STACK_DIR/run/worker.pid):
#   scripts/stack.sh up /tmp/apistack --bin build/default --no-fsync
#   set -a; . /tmp/apistack/stack.env; set +a; build/default/test-api
#   scripts/stack.sh down /tmp/apistack

API_ITEST_SRC = $(wildcard tests/api/*.c) $(wildcard tests/lib/*.c)
API_ITEST_BIN = $(BUILD)/test-api

.PHONY: test-api

$(API_ITEST_BIN): $(call obj,$(API_ITEST_SRC)) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS) $(TEST_LIBS)

test-api: all $(API_ITEST_BIN)
	bash scripts/test-integration.sh $(BUILD) $(API_ITEST_BIN)

# `make test` builds it too (this file is included after the test rule, so the prerequisite is
# added here); the test recipe runs it once it is in its scripts/test-integration.sh line.
test: $(API_ITEST_BIN)
