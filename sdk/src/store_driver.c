/* Which storage driver the host runs (see aitbc/store.h). */
#include <string.h>

#include "aitbc/host.h"
#include "aitbc/store.h"

int aitbc_store_is_postgres(const aitbc_host_api *api) {
    if (!api || !AITBC_HOST_HAS(api, storage_driver) || !api->storage_driver) return 0;
    const char *name = api->storage_driver();
    return name && strcmp(name, "postgres") == 0;
}
