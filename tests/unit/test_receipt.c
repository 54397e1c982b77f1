/* The SDK's offline receipt verifier: key texts it accepts and refuses, and every check it makes
 * (shape, key, coordinator signature, miner signature with its key and address, payload and
 * result hashes), each failing with its own reason. Receipts are signed here with libsodium from
 * fixed seeds, the way a coordinator and a miner do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "aitbc/errors.h"
#include "aitbc/json.h"
#include "aitbc/receipt.h"
#include "aitbc/util.h"

typedef struct keypair {
    unsigned char pk[32], sk[64];
    char pk_hex[65], id[17], address[48];
} keypair;

static keypair coord, miner, other;
static const char *k_payload = "{\"type\":\"ocr\",\"lang\":\"eng\"}";
static const char *k_result = "{\"text\":\"hello\",\"confidence\":91}";

static void keypair_from(unsigned char fill, keypair *k) {
    unsigned char seed[32];
    memset(seed, fill, sizeof seed);
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    aitbc_hex_encode(k->pk, 32, k->pk_hex);
    aitbc_receipt_key_id(k->pk, k->id);
    aitbc_address_from_pubkey(k->pk, k->address);
}

static void sign_b64(const keypair *k, const char *text, char out[96]) {
    unsigned char sig[64];
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), k->sk);
    aitbc_b64url_encode(sig, sizeof sig, out);
}

static void sha_of(const char *json, char out[65]) {
    cJSON *v = cJSON_Parse(json);
    assert_int_equal(aitbc_json_sha256_hex(v, out), 0);
    cJSON_Delete(v);
}

/* (Re)sign r as the coordinator k: coordinator_key_id + signature over the rest. */
static void coord_sign(cJSON *r, const keypair *k) {
    char b64[96];
    cJSON_DeleteItemFromObject(r, "signature");
    cJSON_DeleteItemFromObject(r, "coordinator_key_id");
    cJSON_AddStringToObject(r, "coordinator_key_id", k->id);
    char *text = aitbc_receipt_signed_text(r);
    sign_b64(k, text, b64);
    free(text);
    cJSON_AddStringToObject(r, "signature", b64);
}

/* A COMPLETED receipt the miner and the coordinator signed. */
static cJSON *receipt(void) {
    char psha[65], rsha[65], text[256], msig[96];
    sha_of(k_payload, psha);
    sha_of(k_result, rsha);
    assert_true(aitbc_receipt_result_text("job_a", 1, rsha, 7, text, sizeof text) > 0);
    sign_b64(&miner, text, msig);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "version", 1);
    cJSON_AddStringToObject(r, "receipt_id", "rcpt_a");
    cJSON_AddStringToObject(r, "job_id", "job_a");
    cJSON_AddStringToObject(r, "client", other.address);
    cJSON_AddStringToObject(r, "miner", miner.address);
    cJSON_AddStringToObject(r, "state", "COMPLETED");
    cJSON_AddNumberToObject(r, "attempt", 1);
    cJSON_AddNumberToObject(r, "units", 7);
    cJSON_AddStringToObject(r, "unit_type", "megapixel");
    cJSON_AddStringToObject(r, "unit_price", "0.1");
    cJSON_AddStringToObject(r, "price", "0.7");
    cJSON_AddStringToObject(r, "payload_sha256", psha);
    cJSON_AddStringToObject(r, "result_sha256", rsha);
    cJSON_AddStringToObject(r, "started_at", "2026-11-29T05:37:12.767Z");
    cJSON_AddStringToObject(r, "completed_at", "2026-11-29T05:37:12.884Z");
    cJSON_AddStringToObject(r, "miner_signature", msig);
    cJSON_AddStringToObject(r, "miner_public_key", miner.pk_hex);
    coord_sign(r, &coord);
    return r;
}

static cJSON *keys_of(const char *text) {
    char why[AITBC_RECEIPT_REASON_MAX];
    cJSON *k = aitbc_receipt_keys_parse(text, strlen(text), why, sizeof why);
    if (!k) fail_msg("keys_parse(%s): %s", text, why);
    return k;
}

static cJSON *coord_keys(void) {
    char answer[256];
    snprintf(answer, sizeof answer,
             "{\"keys\":[{\"key_id\":\"%s\",\"alg\":\"Ed25519\",\"public_key\":\"%s\","
             "\"status\":\"active\"}]}",
             coord.id, coord.pk_hex);
    return keys_of(answer);
}

/* Verify and expect rc with a reason containing want. */
static void expect(const cJSON *r, const cJSON *keys, const cJSON *p, const cJSON *res, int rc,
                   const char *want) {
    char why[AITBC_RECEIPT_REASON_MAX];
    int got = aitbc_receipt_verify(r, keys, p, res, why, sizeof why);
    if (got != rc || !strstr(why, want))
        fail_msg("got %d \"%s\", want %d \"%s\"", got, why, rc, want);
    assert_null(strchr(why, '\n'));
}

static void key_texts(void **st) {
    (void)st;
    char text[256], why[AITBC_RECEIPT_REASON_MAX];
    cJSON *k = coord_keys();
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(k, "keys"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(first, "key_id")), coord.id);
    cJSON_Delete(k);
    /* bare hex (any case, with a newline), one key object */
    snprintf(text, sizeof text, "  %s\n", coord.pk_hex);
    for (char *p = text; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    k = keys_of(text);
    first = cJSON_GetArrayItem(cJSON_GetObjectItem(k, "keys"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(first, "public_key")),
                        coord.pk_hex);
    cJSON_Delete(k);
    snprintf(text, sizeof text, "{\"public_key\":\"%s\"}", coord.pk_hex);
    cJSON_Delete(keys_of(text));
    /* refusals */
    const char *bad[] = {"",
                         "zz",
                         "{\"keys\":[]}",
                         "{\"keys\":[1]}",
                         "{\"keys\":{}}",
                         "{\"public_key\":\"abc\"}",
                         "[1,2]",
                         "{\"keys\":[{\"alg\":\"RSA\"}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(aitbc_receipt_keys_parse(bad[i], strlen(bad[i]), why, sizeof why));
        assert_non_null(strstr(why, "not a key"));
    }
    snprintf(text, sizeof text, "{\"key_id\":\"%s\",\"public_key\":\"%s\"}", other.id,
             coord.pk_hex);
    assert_null(aitbc_receipt_keys_parse(text, strlen(text), why, sizeof why));
    assert_non_null(strstr(why, "does not belong to public_key"));
    assert_null(aitbc_receipt_keys_parse(NULL, 0, why, sizeof why));
}

static void good_receipt_verifies(void **st) {
    (void)st;
    cJSON *r = receipt(), *k = coord_keys(), *p = cJSON_Parse(k_payload);
    cJSON *res = cJSON_Parse(k_result);
    expect(r, k, NULL, NULL, 0, "miner signature ok");
    expect(r, k, p, res, 0, "payload hash ok, result hash ok");
    /* a completion answer wraps the receipt */
    cJSON *answer = cJSON_CreateObject();
    cJSON_AddStringToObject(answer, "job_id", "job_a");
    cJSON_AddItemToObject(answer, "receipt", cJSON_Duplicate(r, 1));
    expect(answer, k, NULL, NULL, 0, "job job_a COMPLETED");
    cJSON_Delete(answer);
    /* receipts of older nodes have no miner_public_key: verified, said so */
    cJSON_DeleteItemFromObject(r, "miner_public_key");
    coord_sign(r, &coord);
    expect(r, k, NULL, NULL, 0, "miner signature not checked");
    cJSON_Delete(r);
    cJSON_Delete(k);
    cJSON_Delete(p);
    cJSON_Delete(res);
}

static void tampering_is_named(void **st) {
    (void)st;
    cJSON *k = coord_keys();
    static const char *const fields[] = {"price", "units", "miner", "job_id", "result_sha256"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        cJSON *r = receipt();
        cJSON *v = cJSON_GetObjectItem(r, fields[i]);
        if (cJSON_IsNumber(v))
            cJSON_SetNumberValue(v, v->valuedouble + 1);
        else if (strcmp(fields[i], "miner") == 0)
            cJSON_SetValuestring(v, other.address);
        else if (strcmp(fields[i], "result_sha256") == 0)
            cJSON_SetValuestring(v, "00000000000000000000000000000000000000000000000000000000"
                                    "00000000");
        else
            cJSON_SetValuestring(v, "9");
        expect(r, k, NULL, NULL, AITBC_ESIG, "coordinator signature does not verify");
        cJSON_Delete(r);
    }
    /* another node's key, or a receipt naming a key that was not given */
    cJSON *r = receipt();
    char text[80];
    snprintf(text, sizeof text, "%s", other.pk_hex);
    cJSON *ok = keys_of(text);
    expect(r, ok, NULL, NULL, AITBC_EINVAL, "not by the key given");
    cJSON_Delete(ok);
    cJSON_SetValuestring(cJSON_GetObjectItem(r, "coordinator_key_id"), other.id);
    expect(r, k, NULL, NULL, AITBC_EINVAL, "not by the key given");
    cJSON_Delete(r);
    /* a bad miner signature or key, even when the coordinator signed it */
    r = receipt();
    cJSON_SetValuestring(cJSON_GetObjectItem(r, "miner_signature"), "AAAA");
    coord_sign(r, &coord);
    expect(r, k, NULL, NULL, AITBC_ESIG, "miner signature does not verify");
    cJSON_Delete(r);
    r = receipt();
    cJSON_SetValuestring(cJSON_GetObjectItem(r, "miner_public_key"), other.pk_hex);
    coord_sign(r, &coord);
    expect(r, k, NULL, NULL, AITBC_ESIG, "miner_public_key is not the key of miner");
    cJSON_Delete(r);
    r = receipt();
    cJSON_DeleteItemFromObject(r, "miner_signature");
    coord_sign(r, &coord);
    expect(r, k, NULL, NULL, AITBC_ESIG, "without miner_signature");
    cJSON_Delete(r);
    /* payload and result that are not what ran */
    r = receipt();
    cJSON *p = cJSON_Parse("{\"type\":\"ocr\",\"lang\":\"deu\"}");
    cJSON *res = cJSON_Parse("{\"text\":\"hello!\",\"confidence\":91}");
    expect(r, k, p, NULL, AITBC_ESIG, "payload given does not match payload_sha256");
    expect(r, k, NULL, res, AITBC_ESIG, "result given does not match result_sha256");
    cJSON_Delete(p);
    cJSON_Delete(res);
    cJSON_Delete(r);
    cJSON_Delete(k);
}

static void shape_is_checked(void **st) {
    (void)st;
    cJSON *k = coord_keys();
    expect(NULL, k, NULL, NULL, AITBC_EINVAL, "not a receipt");
    cJSON *arr = cJSON_CreateArray();
    expect(arr, k, NULL, NULL, AITBC_EINVAL, "not a receipt: not an object");
    cJSON_Delete(arr);
    static const char *const members[] = {
        "version",        "receipt_id", "attempt",           "units",
        "payload_sha256", "signature",  "coordinator_key_id"};
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        cJSON *r = receipt();
        cJSON_DeleteItemFromObject(r, members[i]);
        char want[64];
        snprintf(want, sizeof want, "%s missing or malformed", members[i]);
        expect(r, k, NULL, NULL, AITBC_EINVAL, want);
        cJSON_Delete(r);
    }
    cJSON *r = receipt();
    cJSON_SetNumberValue(cJSON_GetObjectItem(r, "version"), 2);
    expect(r, k, NULL, NULL, AITBC_EINVAL, "version 2 is not supported");
    cJSON_Delete(r);
    r = receipt();
    cJSON_SetValuestring(cJSON_GetObjectItem(r, "payload_sha256"), "ABC");
    expect(r, k, NULL, NULL, AITBC_EINVAL, "payload_sha256 missing or malformed");
    cJSON_Delete(r);
    r = receipt();
    cJSON_SetValuestring(cJSON_GetObjectItem(r, "state"), "RUNNING");
    expect(r, k, NULL, NULL, AITBC_EINVAL, "state RUNNING");
    cJSON_Delete(r);
    cJSON_Delete(k);
}

static void failed_receipt(void **st) {
    (void)st;
    const char *error = "{\"code\":\"oom\",\"message\":\"out of memory\"}";
    char esha[65];
    sha_of(error, esha);
    cJSON *r = receipt(), *k = coord_keys(), *e = cJSON_Parse(error);
    cJSON_SetValuestring(cJSON_GetObjectItem(r, "state"), "FAILED");
    cJSON_SetValuestring(cJSON_GetObjectItem(r, "result_sha256"), esha);
    cJSON_ReplaceItemInObject(r, "miner_signature", cJSON_CreateNull());
    cJSON_DeleteItemFromObject(r, "miner_public_key");
    coord_sign(r, &coord);
    expect(r, k, NULL, e, 0, "no miner signature (FAILED), error hash ok");
    cJSON_Delete(r);
    cJSON_Delete(k);
    cJSON_Delete(e);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    keypair_from(1, &coord);
    keypair_from(2, &miner);
    keypair_from(3, &other);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_texts),          cmocka_unit_test(good_receipt_verifies),
        cmocka_unit_test(tampering_is_named), cmocka_unit_test(shape_is_checked),
        cmocka_unit_test(failed_receipt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
