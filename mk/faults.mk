# mk/faults.mk — the fault-injection tests of tests/faults/ (issue "Nothing lost, nothing doubled").
# Included by the top-level Makefile, whose LIB, ALL_LIBS, TEST_LIBS, BUILD, Q and obj it uses.
#
#   make test-faults   every fault group against one private stack (scripts/test-faults.sh);
#                      about 5 minutes on 2 cores
#   make soak          the long run (scripts/soak.sh): thousands of generations under worker kills,
#                      database restarts and a storage cut; prints lost / duplicated / orphaned
#                      counts and recovery times.  SOAK_GENERATIONS, SOAK_MINUTES tune it.
#   FAULTS_ONLY="crash drain" limits test-faults to those groups.
#
# One Criterion binary per group (tests/faults/test_<group>.c -> $(BUILD)/test-faults-<group>),
# each linked with the helpers tests/faults/faults.c and tests/lib/itest.c.

FAULTS_GROUPS  ?= crash drain pg storage lifecycle partition
FAULTS_ONLY    ?=
FAULTS_HELPERS  = tests/faults/faults.c tests/lib/itest.c
FAULTS_BINS     = $(patsubst %,$(BUILD)/test-faults-%,$(if $(FAULTS_ONLY),$(FAULTS_ONLY),$(FAULTS_GROUPS)))
SOAK_BIN        = $(BUILD)/test-faults-soak
# Keep the objects of the chained pattern rule (make would delete them as intermediates).
FAULTS_OBJS     = $(patsubst tests/faults/%.c,$(BUILD)/obj/tests/faults/%.o,$(wildcard tests/faults/test_*.c))
.SECONDARY: $(FAULTS_OBJS)

.PHONY: test-faults soak faults-build

$(BUILD)/test-faults-%: $(BUILD)/obj/tests/faults/test_%.o $(call obj,$(FAULTS_HELPERS)) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(ALL_LIBS) $(TEST_LIBS)

faults-build: all $(FAULTS_BINS) $(SOAK_BIN)

test-faults: all $(FAULTS_BINS)
	bash scripts/test-faults.sh $(BUILD) $(FAULTS_BINS)

soak: all $(SOAK_BIN)
	bash scripts/soak.sh $(BUILD) $(SOAK_BIN)
