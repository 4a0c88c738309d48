/* pid_pool: see pid_pool.h (the broker's producer-id block pool). */
#include "pid_pool.h"

#include <string.h>

#include "broker/common/ferry_err.h"

void prod_pid_pool_init(struct prod_pid_pool *p) { memset(p, 0, sizeof *p); }

int prod_pid_take(struct prod_pid_pool *p, int64_t *out)
{
    if (p->next >= p->end && p->spare_len > 0) {
        p->next = p->spare_first;
        p->end = p->spare_first + p->spare_len;
        p->block_len = p->spare_len;
        p->spare_len = 0;
    }
    if (p->next >= p->end)
        return FERRY_ERANGE;
    *out = p->next++;
    return 0;
}

bool prod_pid_want_block(const struct prod_pid_pool *p)
{
    if (p->fetching || p->spare_len > 0)
        return false;
    int64_t used = p->block_len - (p->end - p->next);
    return p->next >= p->end || used * 10 >= p->block_len * 9;
}

void prod_pid_fetch_started(struct prod_pid_pool *p) { p->fetching = true; }

void prod_pid_block_arrived(struct prod_pid_pool *p, int64_t first, int64_t len)
{
    p->fetching = false;
    if (len <= 0)
        return;
    p->spare_first = first;
    p->spare_len = len;
}
