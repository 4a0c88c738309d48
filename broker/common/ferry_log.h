/* ferry_log: one line per event on stderr: "<time> <LEVEL> <module>: message". Modules pass their name
 * and the ids that matter (node, topic-partition, epoch) in the message. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdbool.h>

enum ferry_log_level { FERRY_LOG_DEBUG, FERRY_LOG_INFO, FERRY_LOG_WARN, FERRY_LOG_ERROR };

void ferry_log_set_level(enum ferry_log_level level);
/* Whether a line at `level` is printed: lets a caller skip building what only such a line would show. */
bool ferry_log_enabled(enum ferry_log_level level);
void ferry_log(enum ferry_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_DEBUG(mod, ...) ferry_log(FERRY_LOG_DEBUG, mod, __VA_ARGS__)
#define LOG_INFO(mod, ...) ferry_log(FERRY_LOG_INFO, mod, __VA_ARGS__)
#define LOG_WARN(mod, ...) ferry_log(FERRY_LOG_WARN, mod, __VA_ARGS__)
#define LOG_ERROR(mod, ...) ferry_log(FERRY_LOG_ERROR, mod, __VA_ARGS__)

#endif
