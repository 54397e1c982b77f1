/* Log levels for aitbc_host_api.log. */
#ifndef AITBC_LOG_H
#define AITBC_LOG_H

typedef enum {
    AITBC_LOG_ERROR = 0,
    AITBC_LOG_WARN = 1,
    AITBC_LOG_INFO = 2,
    AITBC_LOG_DEBUG = 3,
} aitbc_log_level;

#endif
