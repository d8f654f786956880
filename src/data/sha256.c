/* SHA-256 of memory blocks and files, through OpenSSL's EVP interface. */
#include "melon/fetch.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static void digest_to_hex(const unsigned char *digest, unsigned len,
                          char hex[MELON_SHA256_HEX]) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned k = 0; k < len && k < 32; k++) {
        hex[2 * k] = digits[digest[k] >> 4];
        hex[2 * k + 1] = digits[digest[k] & 15];
    }
    hex[64] = '\0';
}

int melon_sha256_bytes(const void *data, size_t len,
                       char hex[MELON_SHA256_HEX], melon_err *err) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    if (!EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL))
        return melon_fail(err, "SHA-256 failed (OpenSSL error)");
    digest_to_hex(digest, digest_len, hex);
    return 0;
}

int melon_sha256_file(const char *path, char hex[MELON_SHA256_HEX],
                      uint64_t *bytes, melon_err *err) {
    FILE *file = fopen(path, "rb");
    if (!file)
        return melon_fail(err, "cannot open %s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        fclose(file);
        return melon_fail(err, "SHA-256 of %s failed (OpenSSL error)", path);
    }

    unsigned char chunk[1 << 16];
    uint64_t total = 0;
    int status = 0;
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, file)) > 0) {
        if (!EVP_DigestUpdate(ctx, chunk, got)) {
            status = melon_fail(err, "SHA-256 of %s failed (OpenSSL error)",
                                path);
            break;
        }
        total += got;
    }
    if (status == 0 && ferror(file))
        status = melon_fail(err, "cannot read %s: %s", path, strerror(errno));

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    if (status == 0 && !EVP_DigestFinal_ex(ctx, digest, &digest_len))
        status = melon_fail(err, "SHA-256 of %s failed (OpenSSL error)", path);
    if (status == 0) {
        digest_to_hex(digest, digest_len, hex);
        if (bytes) *bytes = total;
    }
    EVP_MD_CTX_free(ctx);
    fclose(file);
    return status;
}
