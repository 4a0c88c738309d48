/* log_checkpoint: Kafka's text checkpoint files (internal), the format shared by leader-epoch-checkpoint,
 * recovery-point-offset-checkpoint and log-start-offset-checkpoint:
 *     <version>\n<entry count>\n<entry>\n...      entries are whitespace-separated fields.
 * Parsing is strict about the version, the count and the field count (a damaged checkpoint is reported,
 * never half-used) and tolerant of blank lines, "\r\n" and runs of spaces or tabs. */
#ifndef FERRY_LOG_CHECKPOINT_H
#define FERRY_LOG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "broker/proto/proto_buf.h"

#define LOG_CKPT_MAX_FIELDS 4

/* Called once per entry with its fields (NUL-terminated, inside the parsed text). Returns 0 or an error
 * that stops the parse. */
typedef int (*log_ckpt_entry_fn)(void *arg, char **fields, int nfields);

/* Parses `text` (modified in place: fields are NUL-terminated). FERRY_EPARSE on any format error. */
int log_ckpt_parse(char *text, size_t len, int expect_version, int nfields, log_ckpt_entry_fn fn, void *arg);

/* Strict decimal parsers for fields: 0 or FERRY_EPARSE. */
int log_parse_i64(const char *s, int64_t *out);
int log_parse_i32(const char *s, int32_t *out);

/* printf appended to a proto_writer (the writer's sticky error records ENOMEM). */
void log_writer_printf(struct proto_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
