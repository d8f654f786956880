/* A session's settings as "name=value" text: every room's setting by its
 * command-line name (the settings tables, melon_config_set), except where a
 * run writes its outputs, plus the session's own "evaluate". */
#include "session_internal.h"

#include <stdio.h>
#include <string.h>

static int is_evaluate(const char *text, size_t len) {
    return len == 8 && strncmp(text, "evaluate", 8) == 0;
}

int session_apply_setting(melon_config *cfg, int *evaluate, const char *text,
                          melon_err *err) {
    const char *eq = text ? strchr(text, '=') : NULL;
    if (!eq)
        return melon_fail(err, "setting '%s': expected name=value",
                          text ? text : "(null)");
    size_t len = (size_t)(eq - text);
    if (is_evaluate(text, len)) {
        const char *v = eq + 1;
        if (strcmp(v, "1") == 0 || strcmp(v, "on") == 0 || strcmp(v, "true") == 0)
            *evaluate = 1;
        else if (strcmp(v, "0") == 0 || strcmp(v, "off") == 0 ||
                 strcmp(v, "false") == 0)
            *evaluate = 0;
        else
            return melon_fail(err, "setting evaluate '%s': expected 1 or 0", v);
        return 0;
    }
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)len, text);
    const melon_setting *s = melon_config_find(cfg, name, NULL);
    if (s && (s->flags & MELON_SETTING_OUTPUT))
        return melon_fail(err, "setting '%s' is where `melon run` writes or "
                               "how it shows progress, not a setting of a "
                               "session", name);
    if (melon_config_assign(cfg, text, err) != 0) return -1;
    return 0;
}

int session_format_setting(const melon_config *cfg, int evaluate,
                           const char *name, char *value, size_t size,
                           melon_err *err) {
    if (name && is_evaluate(name, strlen(name))) {
        snprintf(value, size, "%d", evaluate);
        return 0;
    }
    if (!name) return melon_fail(err, "unknown setting '(null)'");
    return melon_config_get(cfg, name, value, size, err);
}

int session_write_settings(const melon_config *cfg, int evaluate, char *out,
                           size_t size) {
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n_rooms = melon_config_rooms(rooms, MELON_MAX_ROOMS);
    size_t at = 0;
    for (int r = 0; r < n_rooms; r++) {
        const melon_settings_table *t = rooms[r].table;
        const char *room = (const char *)cfg + rooms[r].offset;
        for (int k = 0; k < t->n; k++) {
            const melon_setting *s = &t->settings[k];
            if (s->flags & MELON_SETTING_OUTPUT) continue;
            if (s->type == MELON_SETTING_STRING &&
                !*(const char *const *)(room + s->offset))
                continue; /* unset */
            char value[4096];
            melon_setting_format(s, room, value, sizeof value);
            int n = snprintf(out + at, size - at, "%s=%s\n", s->name, value);
            if (n < 0 || (size_t)n >= size - at) return -1;
            at += (size_t)n;
        }
    }
    int n = snprintf(out + at, size - at, "evaluate=%d\n", evaluate);
    if (n < 0 || (size_t)n >= size - at) return -1;
    return (int)(at + (size_t)n);
}
