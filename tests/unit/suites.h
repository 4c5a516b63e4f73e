/* suites.h - every unit-test suite, collected by main.c. */
#ifndef RAFT_TEST_SUITES_H
#define RAFT_TEST_SUITES_H

#include <check.h>

Suite *raft_api_suite(void);         /* test_raft.c */
Suite *raft_election_suite(void);    /* test_election.c */
Suite *raft_replication_suite(void); /* test_replication.c */
Suite *raft_input_suite(void);       /* test_input.c */
Suite *raft_persist_suite(void);     /* test_persist.c */
Suite *raft_oom_suite(void);         /* test_oom.c */
Suite *raft_codec_suite(void);       /* test_codec.c */
Suite *raft_async_suite(void);       /* test_async.c */
Suite *raft_flow_suite(void);        /* test_flow.c */
Suite *raft_metrics_suite(void);     /* test_metrics.c */
Suite *raft_snapshot_suite(void);    /* test_snapshot.c */
Suite *raft_reads_suite(void);       /* test_reads.c */
Suite *raft_conf_suite(void);        /* test_conf.c */
Suite *raft_known_suite(void);       /* test_known.c */

#endif
