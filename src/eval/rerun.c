/* melon_config_load_result: a result file's "config" back into settings. */
#include "eval/rerun.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path, melon_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        melon_fail(err, "%s: cannot open", path);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = 2 * cap + 4096 + 1;
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text);
                fclose(f);
                melon_fail(err, "%s: out of memory", path);
                return NULL;
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, 4096, f);
        len += got;
        if (got < 4096) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        melon_fail(err, "%s: cannot read", path);
        return NULL;
    }
    text[len] = 0;
    return text;
}

/* One recorded value as the text melon_config_set reads. */
static int value_text(const cJSON *v, char *buf, size_t cap) {
    if (cJSON_IsString(v)) snprintf(buf, cap, "%s", v->valuestring);
    else if (cJSON_IsBool(v)) snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "on" : "off");
    else if (cJSON_IsNumber(v)) snprintf(buf, cap, "%.17g", v->valuedouble);
    else return -1;
    return 0;
}

static int load_room(melon_config *cfg, const char *path, const cJSON *room,
                     melon_err *err) {
    for (const cJSON *v = room->child; v; v = v->next) {
        void *where;
        const melon_setting *s = melon_config_find(cfg, v->string, &where);
        if (!s)
            return melon_fail(err, "%s: config.%s: unknown setting '%s'", path,
                              room->string, v->string);
        if (s->flags & MELON_SETTING_OUTPUT) continue;
        if (cJSON_IsNull(v)) { /* an unset string */
            if (s->type != MELON_SETTING_STRING)
                return melon_fail(err, "%s: config.%s.%s: null", path,
                                  room->string, v->string);
            *(const char **)((char *)where + s->offset) = NULL;
            continue;
        }
        char text[4096];
        melon_err why = {{0}};
        if (value_text(v, text, sizeof text) != 0 ||
            melon_config_set(cfg, v->string, text, &why) != 0)
            return melon_fail(err, "%s: config.%s.%s: %s", path, room->string,
                              v->string, why.msg[0] ? why.msg : "not a setting value");
    }
    return 0;
}

int melon_config_load_result(melon_config *cfg, const char *path,
                             melon_err *err) {
    char *text = read_file(path, err);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return melon_fail(err, "%s: not valid JSON", path);
    int rc = 0;
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(root, "config");
    if (!cJSON_IsObject(config)) {
        rc = melon_fail(err, "%s: no \"config\" object (a result file of an "
                             "older melon records too few settings to repeat "
                             "the run)", path);
        goto done;
    }
    for (const cJSON *room = config->child; room && rc == 0; room = room->next) {
        if (strcmp(room->string, "melon_version") == 0) continue;
        if (!cJSON_IsObject(room)) {
            rc = melon_fail(err, "%s: config.%s is not an object", path,
                            room->string);
            break;
        }
        rc = load_room(cfg, path, room, err);
    }
done:
    cJSON_Delete(root);
    return rc;
}

int melon_config_load_settings(melon_config *cfg, const char *path,
                               melon_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return melon_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char line[8192];
    int number = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        number++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = melon_fail(err, "%s:%d: line too long", path, number);
            break;
        }
        while (len > 0 && isspace((unsigned char)line[len - 1])) line[--len] = 0;
        char *text = line;
        while (isspace((unsigned char)*text)) text++;
        if (!*text || *text == '#') continue;
        char name[128];
        size_t n = strcspn(text, "=");
        snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1),
                 text);
        const melon_setting *s = melon_config_find(cfg, name, NULL);
        melon_err why = {{0}};
        if (s && (s->flags & MELON_SETTING_OUTPUT))
            rc = melon_fail(err, "%s:%d: %s says where a run writes: give it on "
                                 "the command line", path, number, name);
        else if (!text[n] && (!s || s->type != MELON_SETTING_FLAG))
            rc = melon_fail(err, "%s:%d: '%s': expected NAME=VALUE", path, number, text);
        else if (melon_config_assign(cfg, text, &why) != 0)
            rc = melon_fail(err, "%s:%d: %s", path, number, why.msg);
    }
    if (rc == 0 && ferror(f)) rc = melon_fail(err, "%s: cannot read", path);
    fclose(f);
    return rc;
}
