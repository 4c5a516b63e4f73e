/*
 * flags.h - command-line flags, parsed the same way by every counter
 * program (counter-server, counter-cli, counter-e2e, counter-bench):
 *
 *   --name VALUE and --name=VALUE are the same; flags come before any
 *   other argument, and "--" ends them;
 *   -h and --help print the usage to stdout and exit 0;
 *   --version prints the program's name and the raft library's version
 *   and exits 0;
 *   an unknown flag prints "PROG: unknown flag F" and the usage to stderr
 *   and exits 2;
 *   a bad or missing value prints "PROG: --name: RULE" to stderr and
 *   exits 2, e.g. "counter-server: --tick-ms: must be between 1 and 10000
 *   (got '0')".
 *
 * Typical loop:
 *
 *   ctr_flags_init(&f, "prog", usage, argc, argv);
 *   while (ctr_flags_next(&f)) {
 *       if ((v = ctr_flag_value(&f, "--id")) != NULL) {
 *           id = ctr_flag_u64(&f, v, 1, UINT64_MAX);
 *       } else if (ctr_flag_is(&f, "--quiet")) {
 *           quiet = true;
 *       } else {
 *           ctr_flag_unknown(&f);
 *       }
 *   }
 *   ... f.argv[f.i .. f.argc) are the other arguments ...
 */
#ifndef COUNTER_FLAGS_H
#define COUNTER_FLAGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ctr_flags {
    const char *prog;
    void (*usage)(FILE *f);
    int argc;
    char **argv;
    int i;         /* the argument being looked at */
    char name[64]; /* its flag name, without any "=value" */
};

void ctr_flags_init(struct ctr_flags *f, const char *prog,
                    void (*usage)(FILE *), int argc, char **argv);

/* Move to the next flag: false when the arguments run out or the next one
 * is not a flag (f->i then indexes it; a "--" is skipped). Handles -h,
 * --help and --version itself (they exit). */
bool ctr_flags_next(struct ctr_flags *f);

/* Is the current flag `name`, which takes no value? */
bool ctr_flag_is(struct ctr_flags *f, const char *name);

/* If the current flag is `name`, its value (the rest after '=', or the
 * next argument, which is consumed); NULL if it is another flag. A missing
 * value is a usage error (exit 2). */
const char *ctr_flag_value(struct ctr_flags *f, const char *name);

/* Parse v as a decimal integer in [min, max] for the current flag, or
 * fail naming the flag and the range (exit 2). */
uint64_t ctr_flag_u64(struct ctr_flags *f, const char *v, uint64_t min,
                      uint64_t max);

/* Print "PROG: " and the message to stderr and exit 2. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3), noreturn))
#endif
void ctr_flag_fail(const struct ctr_flags *f, const char *fmt, ...);

/* The current argument is not a known flag: say so, print the usage to
 * stderr, exit 2. */
#if defined(__GNUC__)
__attribute__((noreturn))
#endif
void ctr_flag_unknown(const struct ctr_flags *f);

#endif
