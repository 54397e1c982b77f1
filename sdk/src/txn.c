/* Join or own a transaction for a service call (see aitbc/txn.h for the rules). */
#include "aitbc/txn.h"
#include "aitbc/errors.h"
#include "aitbc/host.h"

aitbc_txn *aitbc_txn_join(const aitbc_host_api *api, aitbc_txn *given, int mode,
                          aitbc_txn_use *use) {
    use->owned = given == NULL;
    use->txn = given ? given : api->txn_begin(mode);
    return use->txn;
}

int aitbc_txn_leave(const aitbc_host_api *api, aitbc_txn_use *use, int rc, int wrote) {
    if (!use->owned || !use->txn) return rc;
    aitbc_txn *t = use->txn;
    use->txn = NULL;
    if (rc != 0 && wrote) {
        api->txn_rollback(t);
        return rc;
    }
    int crc = api->txn_commit(t);
    return rc != 0 ? rc : crc;
}
