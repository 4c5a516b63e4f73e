/*
 * main.c - runs every unit-test suite in one Check runner.
 *
 * Check's usual environment applies: CK_FORK=no runs the tests in-process
 * (for valgrind), CK_RUN_SUITE / CK_RUN_CASE select a subset, CK_VERBOSITY
 * changes the output. Exit status is non-zero if any test failed.
 */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
    SRunner *sr = srunner_create(raft_api_suite());
    srunner_add_suite(sr, raft_election_suite());
    srunner_add_suite(sr, raft_replication_suite());
    srunner_add_suite(sr, raft_input_suite());
    srunner_add_suite(sr, raft_persist_suite());
    srunner_add_suite(sr, raft_oom_suite());
    srunner_add_suite(sr, raft_codec_suite());
    srunner_add_suite(sr, raft_async_suite());
    srunner_add_suite(sr, raft_flow_suite());
    srunner_add_suite(sr, raft_metrics_suite());
    srunner_add_suite(sr, raft_snapshot_suite());
    srunner_add_suite(sr, raft_reads_suite());
    srunner_add_suite(sr, raft_conf_suite());
    srunner_add_suite(sr, raft_known_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
