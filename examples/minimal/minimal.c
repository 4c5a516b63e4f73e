/*
 * minimal.c - the smallest complete host: three nodes in one process, with
 * a queue of copied messages for a network, memory for each node's disk
 * (a write is durable when its callback returns) and a state machine that
 * records the commands it applies. It elects a leader, commits commands,
 * stops a follower, restarts it from its disk with raft_restore() and checks
 * that every node ends in the same state. Fixed seeds: every run is the same.
 * Exits 0 on success, 1 with a message otherwise. Run: make example-minimal
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"

#define N_NODES 3
#define QUEUE_CAP 64   /* messages in flight; when full, sends are lost */
#define LOG_CAP 16     /* entries per disk */
#define STATE_CAP 64   /* bytes of state machine per node */
#define MAX_ROUNDS 100 /* rounds the cluster gets to settle */

static const raft_id voters[N_NODES] = {1, 2, 3};

struct node {
    raft_id id;
    struct raft *raft;              /* NULL while the node is down */
    struct cluster *cluster;
    raft_term term;                 /* the disk, which survives a restart */
    raft_id vote;
    struct raft_entry log[LOG_CAP]; /* log[i] is index i + 1; owned copies */
    size_t n_log;
    char state[STATE_CAP];          /* the state machine, lost in a restart */
    unsigned starts;                /* raft_create calls so far */
};

struct cluster {
    struct node nodes[N_NODES];
    struct raft_msg queue[QUEUE_CAP]; /* FIFO of owned copies */
    size_t head, len;
    unsigned rejected; /* messages a node refused, and so dropped */
};

static _Noreturn void die(const char *what, const char *why)
{
    fprintf(stderr, "minimal: %s: %s\n", what, why);
    exit(1);
}

static void check(int rc, const char *what)
{
    if (rc != 0)
        die(what, raft_strerror(rc));
}

static void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (p == NULL)
        die("malloc", "out of memory");
    return p;
}

/* A copy of an entry whose payload the host owns. */
static struct raft_entry copy_entry(const struct raft_entry *e)
{
    struct raft_entry copy = *e;
    /* An empty payload's pointer is the library's (it may point into its
     * log): keep NULL, never the borrowed pointer. */
    copy.buf = e->len > 0 ? memcpy(xmalloc(e->len), e->buf, e->len) : NULL;
    return copy;
}

static void free_payloads(const struct raft_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((void *)e[i].buf);
}

/* README:begin */
/* The message is borrowed: queue a copy, entries and payloads included.
 * (No snapshots here: a host that sends them copies a chunk's data and
 * conf too.) */
static int on_send(struct raft *r, void *ctx, const struct raft_msg *m)
{
    struct cluster *c = ((struct node *)ctx)->cluster;
    (void)r;
    if (c->len == QUEUE_CAP)
        return -1; /* lost, as a network may lose it */
    struct raft_msg *copy = &c->queue[(c->head + c->len) % QUEUE_CAP];
    *copy = *m;
    if (m->type == RAFT_MSG_APPEND) {
        size_t n = m->u.append.n_entries;
        struct raft_entry *e = n ? xmalloc(n * sizeof *e) : NULL;
        for (size_t i = 0; i < n; i++)
            e[i] = copy_entry(&m->u.append.entries[i]);
        copy->u.append.entries = e;
    }
    c->len++;
    return 0;
}

/* Replace term and vote together. Memory is this program's disk. */
static int on_persist_state(struct raft *r, void *ctx, raft_term term,
                            raft_id vote)
{
    struct node *n = ctx;
    (void)r;
    n->term = term;
    n->vote = vote;
    return 0; /* durable */
}

/* Drop the entries from index `first` on, then append copies of e[0..k). */
static int on_persist_entries(struct raft *r, void *ctx, raft_index first,
                              const struct raft_entry *e, size_t k)
{
    struct node *n = ctx;
    (void)r;
    if (first - 1 > n->n_log || first - 1 + k > LOG_CAP)
        return -1; /* disk full: the node reports RAFT_EPERSIST */
    free_payloads(&n->log[first - 1], n->n_log - (first - 1));
    n->n_log = first - 1;
    for (size_t i = 0; i < k; i++)
        n->log[n->n_log++] = copy_entry(&e[i]);
    return 0; /* durable */
}

/* Committed entries arrive once each, in index order. */
static int on_apply(struct raft *r, void *ctx, raft_index index,
                    const struct raft_entry *e)
{
    struct node *n = ctx;
    size_t used = strlen(n->state);
    (void)r;
    if (e->type != RAFT_ENTRY_COMMAND)
        return 0; /* a new leader's no-op */
    printf("  node %" PRIu64 " applies index %" PRIu64 ": %.*s\n", n->id,
           index, (int)e->len, (const char *)e->buf);
    snprintf(n->state + used, STATE_CAP - used, "%s%.*s", used ? " " : "",
             (int)e->len, (const char *)e->buf);
    return 0;
}
/* README:end */

/* README:begin */
/* Create a node and start it: a new cluster member, or from its disk. */
static int start_node(struct node *n, bool fresh)
{
    /* A fresh seed at every start (fixed here so runs repeat). */
    struct raft_config cfg = {.id = n->id, .election_ticks = 10,
                              .heartbeat_ticks = 1,
                              .seed = 1000 * ++n->starts + n->id};
    struct raft_callbacks cbs = {.send = on_send,
                                 .persist_state = on_persist_state,
                                 .persist_entries = on_persist_entries,
                                 .apply = on_apply};
    int rc = raft_create(&cfg, &cbs, n, &n->raft);
    if (rc == 0)
        rc = fresh ? raft_bootstrap(n->raft, voters, N_NODES)
                   : raft_restore(n->raft, voters, N_NODES, n->term, n->vote,
                                  n->log, n->n_log);
    if (rc != 0) {
        raft_destroy(n->raft); /* NULL if raft_create failed */
        n->raft = NULL;
    }
    return rc;
}

/* One round: deliver every queued message (and the replies they cause),
 * then advance every running node's clock by one tick. */
static void run_round(struct cluster *c)
{
    while (c->len > 0) {
        struct raft_msg m = c->queue[c->head];
        struct raft *to = c->nodes[m.to - 1].raft;
        c->head = (c->head + 1) % QUEUE_CAP;
        c->len--;
        int rc = to != NULL ? raft_step(to, &m) : 0; /* or lost: node down */
        if (rc == RAFT_ESTALE || rc == RAFT_ENOTMEMBER ||
            rc == RAFT_EBADMSG || rc == RAFT_ETOOBIG)
            c->rejected++; /* dropped; the node is unchanged */
        else
            check(rc, "raft_step");
        if (m.type == RAFT_MSG_APPEND) { /* raft_step copied what it keeps */
            free_payloads(m.u.append.entries, m.u.append.n_entries);
            free((void *)m.u.append.entries);
        }
    }
    for (size_t i = 0; i < N_NODES; i++)
        if (c->nodes[i].raft != NULL)
            check(raft_tick(c->nodes[i].raft), "raft_tick");
}
/* README:end */

/* Run rounds until there is a leader and every running node has applied
 * the whole of the leader's log; return the leader. */
static struct node *settle(struct cluster *c)
{
    for (int round = 0; round < MAX_ROUNDS; round++, run_round(c)) {
        struct raft_status st[N_NODES] = {0};
        struct node *leader = NULL;
        raft_index last = 0; /* the leader's last index */
        for (size_t i = 0; i < N_NODES; i++)
            if (c->nodes[i].raft != NULL) {
                raft_status(c->nodes[i].raft, &st[i]);
                if (st[i].role == RAFT_LEADER) {
                    leader = &c->nodes[i];
                    last = st[i].last_index;
                }
            }
        bool synced = leader != NULL;
        for (size_t i = 0; synced && i < N_NODES; i++)
            synced = c->nodes[i].raft == NULL || st[i].applied == last;
        if (synced)
            return leader;
    }
    die("cluster", "no leader, or not every node applied its log in time");
}

static void propose(struct node *leader, const char *cmd)
{
    raft_index index;
    check(raft_propose(leader->raft, cmd, strlen(cmd), &index), "raft_propose");
    printf("node %" PRIu64 " appends \"%s\" at index %" PRIu64 "\n", leader->id,
           cmd, index);
}

int main(void)
{
    struct cluster c = {0}; /* no node started yet, empty disks */
    const char *expect = "alpha beta gamma delta";

    for (size_t i = 0; i < N_NODES; i++) {
        c.nodes[i].id = voters[i];
        c.nodes[i].cluster = &c;
        check(start_node(&c.nodes[i], true), "raft_bootstrap");
    }
    struct node *leader = settle(&c);
    printf("node %" PRIu64 " elected leader at term %" PRIu64 "\n", leader->id,
           raft_current_term(leader->raft));
    propose(leader, "alpha");
    propose(leader, "beta");
    propose(leader, "gamma");
    leader = settle(&c);

    struct node *f = &c.nodes[leader == &c.nodes[0] ? 1 : 0]; /* a follower */
    raft_destroy(f->raft);
    f->raft = NULL;
    f->state[0] = '\0';
    printf("node %" PRIu64 " stopped: its state machine is lost, its disk "
           "kept\n", f->id);
    propose(leader, "delta");
    leader = settle(&c);

    printf("node %" PRIu64 " restarts from its disk: term %" PRIu64
           ", vote %" PRIu64 ", %zu entries\n",
           f->id, f->term, f->vote, f->n_log);
    check(start_node(f, false), "raft_restore");
    settle(&c);

    int bad = 0;
    for (size_t i = 0; i < N_NODES; i++) {
        struct node *n = &c.nodes[i];
        printf("node %" PRIu64 ": term %" PRIu64 ", state \"%s\"\n", n->id,
               raft_current_term(n->raft), n->state);
        bad |= strcmp(n->state, expect) != 0;
        raft_destroy(n->raft);
        n->raft = NULL;
        free_payloads(n->log, n->n_log);
    }
    run_round(&c); /* every node stopped: frees the messages still queued */
    if (bad)
        die("final state", "the nodes disagree");
    printf("all %d nodes agree (%u messages rejected)\n", N_NODES,
           c.rejected);
    return 0;
}
