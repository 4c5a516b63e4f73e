/*
 * sim_stretch.c - long-stretch link faults, one profile per run.
 *
 * The classic faults cut and heal links every few dozen steps; these keep
 * one node in trouble for hundreds of steps, long enough for many election
 * timeouts, then let it rejoin while the fault phase goes on:
 *   - deaf: the node can send but not receive (every link into it is cut);
 *   - mute: the node can receive but not send;
 *   - flap: some of its links (one or both ways) go down and up every
 *     1..6 steps;
 *   - isolate: the node is cut off from everyone.
 * Half the runs have none. A run with a profile has 1..2 stretches; the
 * fault phase does not end while one is active. Stretch cuts are kept
 * apart from s->cut, so a classic heal does not end a stretch early.
 */
#include <string.h>

#include "sim_int.h"

static const char *const sim_stretch_names[SIM_STRETCH_COUNT] = {
    "none", "deaf", "mute", "flap", "isolate"};

static unsigned long long sim_ull(uint64_t x)
{
    return (unsigned long long)x;
}

void sim_stretch_setup(struct sim *s)
{
    struct sim_stretch *x = &s->stretch;
    memset(x, 0, sizeof *x);
    uint64_t k = sim_choose(s, 8);
    if (s->n < 2 || k < 4)
        return;
    x->kind = SIM_STRETCH_DEAF + (int)(k - 4);
    x->left = 1 + (unsigned)sim_choose(s, 2);
    x->next = s->now + sim_choose(s, 100);
    sim_tracef(s, "stretch profile: %s, %u stretches, the first at step %llu",
               sim_stretch_names[x->kind], x->left, sim_ull(x->next));
}

static void sim_stretch_begin(struct sim *s)
{
    struct sim_stretch *x = &s->stretch;
    x->active = true;
    x->left--;
    x->node = 1 + (raft_id)sim_choose(s, s->n);
    x->down = true;
    uint64_t len;
    switch (x->kind) {
    case SIM_STRETCH_FLAP:
        memset(x->peer, 0, sizeof x->peer);
        for (unsigned b = 1; b <= s->n; b++)
            x->peer[b] = b != x->node && sim_choose(s, 2) == 0;
        x->peer[x->node == 1 ? 2 : 1] = true; /* at least one */
        x->both_ways = sim_choose(s, 2) == 0;
        x->period = 1 + (unsigned)sim_choose(s, 6);
        len = 100 + sim_choose(s, 301);
        break;
    case SIM_STRETCH_ISOLATE:
        len = 200 + sim_choose(s, 301);
        break;
    default: /* deaf, mute */
        len = 200 + sim_choose(s, 601);
        break;
    }
    x->end = s->now + len;
    s->st.stretches++;
    sim_tracef(s, "stretch: node %llu %s until step %llu", sim_ull(x->node),
               sim_stretch_names[x->kind], sim_ull(x->end));
}

void sim_stretch_step(struct sim *s, bool may_start)
{
    struct sim_stretch *x = &s->stretch;
    if (x->kind == SIM_STRETCH_NONE)
        return;
    if (x->active && s->now >= x->end) {
        x->active = false;
        x->next = s->now + 20 + sim_choose(s, 200);
        sim_tracef(s, "stretch: node %llu rejoins", sim_ull(x->node));
    } else if (x->active && x->kind == SIM_STRETCH_FLAP &&
               s->now % x->period == 0) {
        x->down = !x->down;
    } else if (!x->active && x->left > 0 && s->now >= x->next && may_start) {
        sim_stretch_begin(s);
    }
}

bool sim_stretch_busy(const struct sim *s)
{
    return s->stretch.active;
}

bool sim_stretch_cut(const struct sim *s, raft_id from, raft_id to)
{
    const struct sim_stretch *x = &s->stretch;
    if (!x->active)
        return false;
    switch (x->kind) {
    case SIM_STRETCH_DEAF:    return to == x->node;
    case SIM_STRETCH_MUTE:    return from == x->node;
    case SIM_STRETCH_ISOLATE: return from == x->node || to == x->node;
    case SIM_STRETCH_FLAP:
        return x->down && ((from == x->node && x->peer[to]) ||
                           (x->both_ways && to == x->node && x->peer[from]));
    default:
        return false;
    }
}

void sim_stretch_stop(struct sim *s)
{
    s->stretch.active = false;
    s->stretch.left = 0;
}
