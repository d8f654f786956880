/* Reading JSON files whole. */
#include "json_file.h"

#include <stdio.h>
#include <stdlib.h>

char *json_file_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    if (!buf) {
        fclose(f);
        return NULL;
    }
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *bigger = realloc(buf, 2 * cap);
            if (!bigger) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    buf[len] = 0;
    return buf;
}

cJSON *json_file_read(const char *path) {
    char *text = json_file_text(path);
    if (!text) return NULL;
    cJSON *root = cJSON_Parse(text);
    free(text);
    return root;
}
