/*
 * flags.c - the command-line conventions shared by the counter programs
 * (see flags.h).
 */
#include "flags.h"

#include "raft.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void ctr_flags_init(struct ctr_flags *f, const char *prog,
                    void (*usage)(FILE *), int argc, char **argv)
{
    memset(f, 0, sizeof(*f));
    f->prog = prog;
    f->usage = usage;
    f->argc = argc;
    f->argv = argv;
    f->i = 0;
}

void ctr_flag_fail(const struct ctr_flags *f, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", f->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

void ctr_flag_unknown(const struct ctr_flags *f)
{
    fprintf(stderr, "%s: unknown flag %s\n", f->prog, f->name);
    f->usage(stderr);
    exit(2);
}

bool ctr_flags_next(struct ctr_flags *f)
{
    const char *a, *eq;
    size_t n;
    if (++f->i >= f->argc) {
        return false;
    }
    a = f->argv[f->i];
    if (strcmp(a, "--") == 0) {
        f->i++;
        return false;
    }
    if (a[0] != '-' || a[1] == '\0') {
        return false; /* an operand, or "-" */
    }
    eq = strchr(a, '=');
    n = eq != NULL && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
    if (n >= sizeof(f->name)) {
        n = sizeof(f->name) - 1;
    }
    memcpy(f->name, a, n);
    f->name[n] = '\0';
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        f->usage(stdout);
        exit(0);
    }
    if (strcmp(a, "--version") == 0) {
        printf("%s (raft library %d.%d.%d)\n", f->prog, RAFT_VERSION_MAJOR,
               RAFT_VERSION_MINOR, RAFT_VERSION_PATCH);
        exit(0);
    }
    return true;
}

bool ctr_flag_is(struct ctr_flags *f, const char *name)
{
    if (strcmp(f->name, name) != 0) {
        return false;
    }
    if (strcmp(f->argv[f->i], name) != 0) {
        ctr_flag_fail(f, "%s: takes no value", name);
    }
    return true;
}

const char *ctr_flag_value(struct ctr_flags *f, const char *name)
{
    const char *a = f->argv[f->i];
    size_t n = strlen(name);
    if (strcmp(f->name, name) != 0) {
        return NULL;
    }
    if (a[n] == '=') {
        return a + n + 1;
    }
    if (f->i + 1 >= f->argc) {
        ctr_flag_fail(f, "%s: needs a value", name);
    }
    return f->argv[++f->i];
}

uint64_t ctr_flag_u64(struct ctr_flags *f, const char *v, uint64_t min,
                      uint64_t max)
{
    char *end;
    uint64_t x = 0;
    bool ok = v[0] >= '0' && v[0] <= '9';
    if (ok) {
        errno = 0;
        x = strtoull(v, &end, 10);
        ok = *end == '\0' && errno == 0 && x >= min && x <= max;
    }
    if (ok) {
        return x;
    }
    if (min == 1 && max == UINT64_MAX) {
        ctr_flag_fail(f, "%s: must be a positive integer (got '%s')", f->name,
                      v);
    }
    if (min == 0 && max == UINT64_MAX) {
        ctr_flag_fail(f, "%s: must be a non-negative integer (got '%s')",
                      f->name, v);
    }
    ctr_flag_fail(f, "%s: must be between %" PRIu64 " and %" PRIu64
                  " (got '%s')", f->name, min, max, v);
}
