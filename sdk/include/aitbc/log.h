/* Log levels for aitbc_host_api.log. */
#ifndef AITBC_LOG_H
#define AITBC_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    AITBC_LOG_ERROR = 0,
    AITBC_LOG_WARN = 1,
    AITBC_LOG_INFO = 2,
    AITBC_LOG_DEBUG = 3,
} aitbc_log_level;

#ifdef __cplusplus
}
#endif

#endif
