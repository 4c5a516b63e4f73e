/*
 * fuzz_sim.c - the cluster simulator (tests/sim) driven by the fuzzer.
 *
 * The input is the byte string of the simulator's byte chooser: every
 * decision (cluster size, configuration, fault rates, the event schedule,
 * which message is delivered, dropped or duplicated, crashes, partitions,
 * payloads, node PRNG seeds, partial writes) is read from it. The fault
 * phase lasts until the input runs out (fault_events is set far beyond
 * what an input can drive), then the heal phase runs with every choice 0.
 *
 * All of the simulator's safety checks run after every event and inside
 * every callback (see tests/sim/README.md), and the run must also meet the
 * simulator's liveness requirement: because the heal phase never reads the
 * input (every choice is 0 there, which the simulator guarantees to be a
 * benign schedule: distinct node seeds, latency 1, no faults), a fuzzer
 * cannot starve the cluster, so a liveness failure is a finding. Checking
 * liveness also ends the heal phase as soon as a fresh proposal commits
 * everywhere, which makes executions about ten times faster than with
 * opts.skip_liveness (a fixed 200-step heal phase). Build with
 * -DFUZZ_SIM_SKIP_LIVENESS to check safety only.
 *
 * Any reported violation is printed and aborts, so libFuzzer keeps the
 * input; replay it with the binary and the file name (FUZZ_TRACE=1 in the
 * environment prints the simulator's event trace).
 */
#include "fuzz.h"
#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sim_bytes bytes;
    struct sim_chooser ch;
    struct sim_stats st;
    struct sim_opts o;
    char err[1024];
    int rc;

    memset(&o, 0, sizeof(o));
    memset(&st, 0, sizeof(st));
    o.fault_events = UINT64_C(1) << 32; /* ended by the input running out */
#ifdef FUZZ_SIM_SKIP_LIVENESS
    o.skip_liveness = true;
#else
    o.skip_liveness = false;
#endif
    o.stats = &st;
    if (getenv("FUZZ_TRACE") != NULL) {
        o.trace = stderr; /* the simulator's event trace, as sim -v */
    }
    sim_bytes_chooser(&bytes, data, size, &ch);
    rc = sim_run(&o, &ch, err, sizeof(err));
    if (rc != SIM_PASS) {
        fprintf(stderr, "sim: %s (%u nodes, %llu events): %s\n",
                rc == SIM_FAIL ? "FAIL" : "ERROR", st.n_nodes,
                (unsigned long long)st.events, err);
        abort();
    }
    return 0;
}
