/* ferry_err: names for local and Kafka error codes. */
#include "ferry_err.h"

const char *ferry_strerror(int err)
{
    switch (err) {
    case FERRY_OK: return "ok";
    case FERRY_ENOMEM: return "out of memory";
    case FERRY_EPARSE: return "malformed input";
    case FERRY_EIO: return "I/O error";
    case FERRY_EINVAL: return "invalid argument";
    case FERRY_ECORRUPT: return "corrupt data";
    case FERRY_ENOTFOUND: return "not found";
    case FERRY_EEXIST: return "already exists";
    case FERRY_ERANGE: return "out of range";
    case FERRY_ETOOBIG: return "too large";
    case FERRY_EUNSUPPORTED: return "unsupported";
    case FERRY_ENOFD: return "out of file descriptors";
    default: return "unknown error";
    }
}

const char *kafka_error_name(int code)
{
    switch (code) {
#define KERR_CASE_(name, c) case c: return #name;
        KAFKA_ERRORS(KERR_CASE_)
#undef KERR_CASE_
    default: return "UNKNOWN";
    }
}
