/* ctrl_names: Kafka's topic name rules (common/internals/Topic.java): not empty, not "." or "..", at
 * most 249 characters of [a-zA-Z0-9._-]; and the '.'/'_' collision check against existing topics. */
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_err.h"
#include "kraftmode/ctrl.h"

#define TOPIC_MAX_NAME_LENGTH 249

static bool legal_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

int ctrl_validate_topic_name(const char *name, size_t len, char *msg, size_t msglen)
{
    const char *why = NULL;
    char buf[320];
    if (len == 0) {
        why = "the empty string is not allowed";
    } else if (len == 1 && name[0] == '.') {
        why = "'.' is not allowed";
    } else if (len == 2 && name[0] == '.' && name[1] == '.') {
        why = "'..' is not allowed";
    } else if (len > TOPIC_MAX_NAME_LENGTH) {
        snprintf(buf, sizeof buf, "the length of '%.*s' is longer than the max allowed length %d",
                 (int)(len > 260 ? 260 : len), name, TOPIC_MAX_NAME_LENGTH);
        why = buf;
    } else {
        for (size_t i = 0; i < len; i++) {
            if (!legal_char(name[i])) {
                snprintf(buf, sizeof buf, "'%.*s' contains one or more characters other than ASCII alphanumerics, "
                                          "'.', '_' and '-'", (int)len, name);
                why = buf;
                break;
            }
        }
    }
    if (!why) {
        if (msglen)
            msg[0] = '\0';
        return 0;
    }
    snprintf(msg, msglen, "Topic name is invalid: %s", why);
    return KERR_INVALID_TOPIC_EXCEPTION;
}

static bool collides(const char *a, size_t alen, const char *b)
{
    if (strlen(b) != alen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        char x = a[i] == '.' ? '_' : a[i], y = b[i] == '.' ? '_' : b[i];
        if (x != y)
            return false;
    }
    return true;
}

const struct md_topic *ctrl_colliding_topic(const struct md_image *img, const char *name, size_t len)
{
    if (!memchr(name, '.', len) && !memchr(name, '_', len))
        return NULL;
    size_t n;
    struct md_topic *const *all = md_image_topics_sorted(img, &n);
    for (size_t i = 0; i < n; i++) {
        const char *t = all[i]->name;
        if (!strchr(t, '.') && !strchr(t, '_'))
            continue;
        if (collides(name, len, t) && !(strlen(t) == len && memcmp(t, name, len) == 0))
            return all[i];
    }
    return NULL;
}
