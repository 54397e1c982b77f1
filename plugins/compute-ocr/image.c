/* The image half of an OCR job: base64 text → bytes → a Leptonica Pix, refusing anything too big
 * before the decoder allocates for it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <sodium.h>

#include <aitbc/errors.h>
#include "ocr.h"

/* Whitespace (line-wrapped base64, as `base64` prints it) is skipped by the decoder. */
static const char k_b64_ignore[] = " \t\r\n";

static int decode_base64(const char *text, size_t text_len, const ocr_config *cfg,
                         unsigned char **bytes, size_t *len, aitbc_compute_out *out) {
    /* Generous bound on the text (4/3 of the bytes plus line breaks) so a huge string is refused
     * without touching it. */
    if (text_len / 2 > cfg->max_input_bytes + 1024)
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "image_too_large",
                                  "image_base64 is %zu characters; the limit is %zu image bytes",
                                  text_len, cfg->max_input_bytes);
    unsigned char *buf = malloc(cfg->max_input_bytes + 1);
    if (!buf) return aitbc_compute_fail(out, AITBC_ENOMEM, 1, "out_of_memory", "out of memory");
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL,
                                   sodium_base64_VARIANT_ORIGINAL_NO_PADDING};
    int too_big = 0;
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        const char *end = NULL;
        errno = 0;
        /* One byte more than allowed: decoding that many means the image is over the limit. */
        if (sodium_base642bin(buf, cfg->max_input_bytes + 1, text, text_len, k_b64_ignore, len,
                              &end, variants[i]) == 0 &&
            end == text + text_len) {
            if (*len > cfg->max_input_bytes) break;
            *bytes = buf;
            return 0;
        }
        too_big |= errno == ERANGE;
    }
    free(buf);
    if (too_big || *len > cfg->max_input_bytes)
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "image_too_large",
                                  "the image is larger than %zu bytes", cfg->max_input_bytes);
    return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                              "image_base64 is not valid base64");
}

static const char *format_name(l_int32 format) {
    if (format == IFF_PNG) return "png";
    if (format == IFF_JFIF_JPEG) return "jpeg";
    if (L_FORMAT_IS_TIFF(format)) return "tiff";
    return NULL;
}

int ocr_image_decode(const char *base64, const ocr_config *cfg, struct Pix **pix,
                     aitbc_compute_out *out) {
    unsigned char *bytes = NULL;
    size_t len = 0;
    int rc = decode_base64(base64, strlen(base64), cfg, &bytes, &len, out);
    if (rc != 0) return rc;
    l_int32 format = IFF_UNKNOWN, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
    /* findFileFormatBuffer reads 12 bytes; shorter input is certainly no image. */
    if (len < 12 || findFileFormatBuffer(bytes, &format) != 0 || !format_name(format)) {
        free(bytes);
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "unsupported_image",
                                  "the image is not PNG, JPEG or TIFF");
    }
    if (pixReadHeaderMem(bytes, len, &format, &w, &h, &bps, &spp, &cmap) != 0 || w <= 0 || h <= 0) {
        free(bytes);
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "corrupt_image",
                                  "the %s image header cannot be read", format_name(format));
    }
    /* Tesseract keeps coordinates in 16 bits. */
    if ((int64_t)w * h > cfg->max_pixels || w > 32767 || h > 32767) {
        free(bytes);
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "image_too_large",
                                  "the image is %dx%d pixels; the limit is %lld pixels and 32767 "
                                  "per side",
                                  w, h, (long long)cfg->max_pixels);
    }
    PIX *p = pixReadMem(bytes, len);
    free(bytes);
    if (!p || pixGetWidth(p) != w || pixGetHeight(p) != h) {
        pixDestroy(&p);
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "corrupt_image",
                                  "the %s image cannot be decoded", format_name(format));
    }
    *pix = p;
    return 0;
}
