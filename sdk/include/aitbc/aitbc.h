/* Everything a plugin includes. */
#ifndef AITBC_AITBC_H
#define AITBC_AITBC_H
#include "errors.h"
#include "plugin.h"
#include "host.h"
#include "http.h"
#include "bus.h"
#include "store.h"
#include "log.h"
#include "money.h"
#include "json.h"
#include "util.h"
#include "command.h"
#include "metrics.h"
#include "paging.h"
#include "answer.h"
#include "txn.h"
#include "receipt.h"
#include "shared.h"
#endif
