/* raft_sim: a deterministic simulated cluster (virtual clock, network, disk) driving the Raft core
 * (kraftmode/raft/raft.h), with the safety invariants checked after every event. Used by the sim tests
 * (raft_sim_main.c) and the checker's self-test (a core with a known bug must be caught).
 *
 * One run is a function of its parameters and seed only: every random choice comes from one xorshift
 * generator seeded by the seed, so a failing seed replays exactly. */
#ifndef FERRY_RAFT_SIM_H
#define FERRY_RAFT_SIM_H

#include <stdbool.h>
#include <stdint.h>

/* The replicated state machine. */
enum raft_sim_app {
    RAFT_SIM_APP_HASH, /* opaque proposals applied to a running hash */
    RAFT_SIM_APP_CTRL, /* the quorum controller and metadata image (tests/sim/ctrl_app.h) */
};

struct raft_sim_params {
    uint64_t seed;
    int voters;          /* 1..7 */
    int observers;       /* 0..4 */
    int64_t duration_ms; /* simulated time */
    bool pre_vote;
    unsigned bugs;       /* enum raft_test_bug bits passed to every node's core */
    enum raft_sim_app app;
    unsigned app_bugs;   /* enum ctrl_app_bug bits (--app ctrl) */
    bool trace;          /* print every event on stdout */
};

struct raft_sim_result {
    bool violation;
    char what[256];     /* the first violated invariant */
    int64_t at_ms;
    int64_t commit;     /* highest committed offset seen */
    int leaders;        /* elections won */
    int64_t events;
    int truncations;    /* follower truncations (divergence) */
    int snap_installs;  /* snapshots fetched and installed */
    int crashes;
    int64_t digests;       /* --app ctrl: image digests compared */
    int64_t ctrl_ops;      /* controller decisions that wrote records */
    int64_t ctrl_records;
    int64_t ctrl_rejected; /* client requests answered with an error */
    int64_t ctrl_fenced;   /* brokers fenced for a lapsed session */
};

void raft_sim_params_default(struct raft_sim_params *p, uint64_t seed);
/* Runs one simulation. Returns 0 (result filled), or a negative FERRY_E* on a setup error. */
int raft_sim_run(const struct raft_sim_params *p, struct raft_sim_result *res);

#endif
