/* pid_pool: the broker's producer-id pool (Kafka's RPCProducerIdManager), pure: ids are handed out from
 * the current block obtained from the controller (AllocateProducerIds, blocks of 1000); the next block is
 * asked for once 90% of the current one is used, so that InitProducerId rarely waits. The caller does the
 * asking (kraft_allocate_producer_ids) and reports the result.
 *
 * Ownership: plain struct, owned by the broker (loop thread). */
#ifndef FERRY_PID_POOL_H
#define FERRY_PID_POOL_H

#include <stdbool.h>
#include <stdint.h>

struct prod_pid_pool {
    int64_t next, end;          /* current block: ids next..end-1 */
    int64_t block_len;          /* length of the current block (for the prefetch threshold) */
    int64_t spare_first, spare_len; /* a prefetched block, when spare_len > 0 */
    bool fetching;              /* an allocation is in flight */
};

void prod_pid_pool_init(struct prod_pid_pool *p);
/* Takes the next id: 0, or FERRY_ERANGE when none is available (ask for a block and wait). */
int prod_pid_take(struct prod_pid_pool *p, int64_t *out);
/* True when a block should be asked for now (none in flight, none spare, and the current block is
 * exhausted or 90% used). The caller then sets `fetching` through prod_pid_fetch_started. */
bool prod_pid_want_block(const struct prod_pid_pool *p);
void prod_pid_fetch_started(struct prod_pid_pool *p);
/* The controller's answer: a block (len > 0), or len 0 when the allocation failed. */
void prod_pid_block_arrived(struct prod_pid_pool *p, int64_t first, int64_t len);

#endif
