/* kraft_source: the quorum-mode KRaft node seen through the broker's metadata-source interface
 * (broker/metadata/md_source.h). The node stays owned by whoever started it; the source only forwards. */
#ifndef FERRY_KRAFT_SOURCE_H
#define FERRY_KRAFT_SOURCE_H

#include "broker/metadata/md_source.h"
#include "kraftmode/kraft_node.h"

/* Fills *out so that every md_source operation goes to `node`; stop stops the node. */
void kraft_source_init(struct kraft_node *node, struct md_source *out);
/* The node behind a source made by kraft_source_init; NULL for any other source. */
struct kraft_node *kraft_source_node(const struct md_source *src);

#endif
