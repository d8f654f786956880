/* SHA-256 and MD5 of memory blocks and files, through OpenSSL's EVP
 * interface. */
#include "fetch.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* hex holds 2 len + 1 characters */
static void digest_to_hex(const unsigned char *digest, unsigned len, char *hex) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned k = 0; k < len && k < 32; k++) {
        hex[2 * k] = digits[digest[k] >> 4];
        hex[2 * k + 1] = digits[digest[k] & 15];
    }
    hex[2 * (len < 32 ? len : 32)] = '\0';
}

static int digest_bytes(const EVP_MD *md, const char *what, const void *data,
                        size_t len, char *hex, melon_err *err) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    if (!EVP_Digest(data, len, digest, &digest_len, md, NULL))
        return melon_fail(err, "%s failed (OpenSSL error)", what);
    digest_to_hex(digest, digest_len, hex);
    return 0;
}

static int digest_file(const EVP_MD *md, const char *what, const char *path,
                       char *hex, uint64_t *bytes, melon_err *err) {
    FILE *file = fopen(path, "rb");
    if (!file)
        return melon_fail(err, "cannot open %s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL)) {
        EVP_MD_CTX_free(ctx);
        fclose(file);
        return melon_fail(err, "%s of %s failed (OpenSSL error)", what, path);
    }

    unsigned char chunk[1 << 16];
    uint64_t total = 0;
    int status = 0;
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, file)) > 0) {
        if (!EVP_DigestUpdate(ctx, chunk, got)) {
            status = melon_fail(err, "%s of %s failed (OpenSSL error)", what, path);
            break;
        }
        total += got;
    }
    if (status == 0 && ferror(file))
        status = melon_fail(err, "cannot read %s: %s", path, strerror(errno));

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    if (status == 0 && !EVP_DigestFinal_ex(ctx, digest, &digest_len))
        status = melon_fail(err, "%s of %s failed (OpenSSL error)", what, path);
    if (status == 0) {
        digest_to_hex(digest, digest_len, hex);
        if (bytes) *bytes = total;
    }
    EVP_MD_CTX_free(ctx);
    fclose(file);
    return status;
}

int melon_sha256_bytes(const void *data, size_t len,
                       char hex[MELON_SHA256_HEX], melon_err *err) {
    return digest_bytes(EVP_sha256(), "SHA-256", data, len, hex, err);
}

int melon_sha256_file(const char *path, char hex[MELON_SHA256_HEX],
                      uint64_t *bytes, melon_err *err) {
    return digest_file(EVP_sha256(), "SHA-256", path, hex, bytes, err);
}

int melon_md5_bytes(const void *data, size_t len, char hex[MELON_MD5_HEX],
                    melon_err *err) {
    return digest_bytes(EVP_md5(), "MD5", data, len, hex, err);
}

int melon_md5_file(const char *path, char hex[MELON_MD5_HEX], melon_err *err) {
    return digest_file(EVP_md5(), "MD5", path, hex, NULL, err);
}
