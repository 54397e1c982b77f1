/* Return codes shared by the host and every plugin: 0 is success, failures are negative. */
#ifndef AITBC_ERRORS_H
#define AITBC_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    AITBC_OK = 0,
    AITBC_EINVAL = -1,     /**< bad argument / invalid input (HTTP 400) */
    AITBC_ENOMEM = -2,     /**< allocation failed (500) */
    AITBC_ENOTFOUND = -3,  /**< no such thing (404) */
    AITBC_EEXIST = -4,     /**< already exists / idempotent repeat (409 or "same answer") */
    AITBC_EFUNDS = -5,     /**< overdraft refused (402) */
    AITBC_EOVERFLOW = -6,  /**< integer overflow refused (400) */
    AITBC_EAUTH = -7,      /**< unauthenticated (401) */
    AITBC_EFORBIDDEN = -8, /**< authenticated but not allowed (403) */
    AITBC_ECONFLICT = -9,  /**< state conflict (409) */
    AITBC_ERATE = -10,     /**< rate limited (429) */
    AITBC_EIO = -11,       /**< storage / OS failure (500) */
    AITBC_EBUSY = -12,     /**< database busy after busy_timeout (503) */
    AITBC_EUNAVAIL = -13,  /**< service missing or shutting down (503) */
    AITBC_ESIG = -14,      /**< signature does not verify (400 invalid_signature) */
};

#ifdef __cplusplus
}
#endif

#endif
