/*
 * use_installed.c - built by `make test-install` against the installed
 * header and libraries (static, shared, pkg-config) and run: a one-voter
 * node elects itself, commits and applies one command.
 */
#include <raft.h>

#include <stdio.h>
#include <string.h>

static int applied;

static int on_send(struct raft *r, void *ctx, const struct raft_msg *m)
{
    (void)r, (void)ctx, (void)m;
    return 0; /* a one-voter cluster sends nothing */
}

static int on_state(struct raft *r, void *ctx, raft_term term, raft_id vote)
{
    (void)r, (void)ctx, (void)term, (void)vote;
    return 0;
}

static int on_entries(struct raft *r, void *ctx, raft_index first,
                      const struct raft_entry *e, size_t n)
{
    (void)r, (void)ctx, (void)first, (void)e, (void)n;
    return 0;
}

static int on_apply(struct raft *r, void *ctx, raft_index index,
                    const struct raft_entry *e)
{
    (void)r, (void)ctx, (void)index;
    if (e->type == RAFT_ENTRY_COMMAND && e->len == 5 &&
        memcmp(e->buf, "hello", 5) == 0) {
        applied++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct raft_config cfg;
    struct raft_callbacks cb = {.send = on_send,
                                .persist_state = on_state,
                                .persist_entries = on_entries,
                                .apply = on_apply};
    struct raft *r;
    raft_id self = 1;
    int i, rc;
    memset(&cfg, 0, sizeof(cfg));
    cfg.id = self;
    cfg.seed = 1;
    rc = raft_create(&cfg, &cb, NULL, &r);
    if (rc == 0) {
        rc = raft_bootstrap(r, &self, 1);
    }
    for (i = 0; rc == 0 && i < 100 && raft_role(r) != RAFT_LEADER; i++) {
        rc = raft_tick(r);
    }
    if (rc == 0) {
        rc = raft_propose(r, "hello", 5, NULL);
    }
    raft_destroy(r);
    if (rc != 0 || applied != 1 ||
        raft_version_number() != RAFT_VERSION_NUMBER) {
        fprintf(stderr, "use_installed: failed: %s, applied %d\n",
                raft_strerror(rc), applied);
        return 1;
    }
    printf("use_installed (%s): ok, library %d\n", argc > 1 ? argv[1] : "?",
           raft_version_number());
    return 0;
}
