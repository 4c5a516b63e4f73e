# Build rules for the replicated counter example, included by the Makefile.
# Targets: examples, demo, test-e2e (counter-sessions-test, counter-storage-test,
# then counter-e2e), bench-counter, bench-reads, bench-membership.

CTR_DIR        := examples/counter
CTR_COMMON     := $(CTR_DIR)/proto.c $(CTR_DIR)/handshake.c $(CTR_DIR)/flags.c
CTR_SERVER_SRC := $(CTR_DIR)/server.c $(CTR_DIR)/sessions.c $(CTR_DIR)/storage.c $(CTR_DIR)/writer.c \
                  $(CTR_COMMON)
CTR_CLI_SRC    := $(CTR_DIR)/cli.c $(CTR_COMMON)
CTR_HDRS        = $(wildcard $(CTR_DIR)/*.h)
EX_CFLAGS       = $(CSTD) -Wall -Wextra -Wpedantic $(WERROR) -Wshadow $(OPT) $(CPPFLAGS) $(CFLAGS) -I. -I$(CTR_DIR)
E2E_SECONDS    ?= 30

.PHONY: examples demo demo-run test-e2e bench-counter bench-reads bench-membership

$(B)/counter-server: $(CTR_SERVER_SRC) $(CTR_HDRS) $(LIBA)
	$(CC) $(EX_CFLAGS) $(CTR_SERVER_SRC) $(LIBA) $(LDFLAGS) -lpthread -o $@

$(B)/counter-cli: $(CTR_CLI_SRC) $(CTR_HDRS) $(FLAGS)
	$(CC) $(EX_CFLAGS) $(CTR_CLI_SRC) $(LDFLAGS) -o $@

$(B)/counter-e2e: tests/e2e/counter_e2e.c $(CTR_COMMON) $(CTR_HDRS) $(FLAGS) $(wildcard tests/e2e/*.h) $(LIBA)
	$(CC) $(EX_CFLAGS) tests/e2e/counter_e2e.c $(CTR_COMMON) $(LIBA) $(LDFLAGS) -lpthread -o $@

$(B)/counter-storage-test: tests/e2e/counter_storage.c $(CTR_DIR)/storage.c $(CTR_DIR)/writer.c $(CTR_COMMON) $(CTR_HDRS) $(FLAGS) $(wildcard tests/e2e/*.h)
	$(CC) $(EX_CFLAGS) tests/e2e/counter_storage.c $(CTR_DIR)/storage.c $(CTR_DIR)/writer.c $(CTR_COMMON) $(LDFLAGS) -lpthread -o $@

$(B)/counter-sessions-test: tests/e2e/counter_sessions.c $(CTR_DIR)/sessions.c $(CTR_COMMON) $(CTR_HDRS) $(FLAGS)
	$(CC) $(EX_CFLAGS) tests/e2e/counter_sessions.c $(CTR_DIR)/sessions.c $(CTR_COMMON) $(LDFLAGS) -o $@

$(B)/counter-bench: tests/e2e/counter_bench.c $(CTR_COMMON) $(CTR_HDRS) $(FLAGS) $(wildcard tests/e2e/*.h)
	$(CC) $(EX_CFLAGS) tests/e2e/counter_bench.c $(CTR_COMMON) $(LDFLAGS) -lpthread -o $@

examples: $(B)/counter-server $(B)/counter-cli

# The README's demo command: installs what is missing (or says how) first.
demo:
	@bash scripts/deps.sh demo
	@$(MAKE) --no-print-directory demo-run

demo-run: examples
	bash $(CTR_DIR)/demo.sh $(B)

test-e2e: examples $(B)/counter-e2e $(B)/counter-storage-test $(B)/counter-sessions-test
	$(B)/counter-sessions-test
	$(B)/counter-storage-test --bin $(B)
	$(B)/counter-e2e --bin $(B) --seconds $(E2E_SECONDS)

# Throughput and latency, then restart time after 100,000 and 1,000,000
# increments of history, with snapshots off and on.
bench-counter: examples $(B)/counter-bench
	$(B)/counter-bench --bin $(B)
	$(B)/counter-bench --bin $(B) --restart 100000,1000000

# INCR against GETs with 32 clients only, READ_RUNS turns (default 3) on
# one cluster, medians: the README's reads table. READS picks the GETs
# (default readindex,lease,log; readindex alone is the quickest).
bench-reads: examples $(B)/counter-bench
	$(B)/counter-bench --bin $(B) --clients 32 --reads $${READS:-readindex,lease,log} \
	    --runs $${READ_RUNS:-3}

# Time without a committed write while a dead voter is replaced and while
# leadership is transferred: UA_RUNS runs of each scenario, medians.
bench-membership: examples $(B)/counter-bench
	$(B)/counter-bench --bin $(B) --unavailability $${UA_RUNS:-7}
