/* Python dict literal -> strict JSON, one token at a time. */
#include "loose_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void melon_text_buffer_free(melon_text_buffer *buf) {
    free(buf->text);
    memset(buf, 0, sizeof *buf);
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

static int is_string_prefix(const char *name, size_t len) {
    static const char *const prefixes[] = {"u", "U", "b", "B", "r", "R",
                                           "br", "Br", "bR", "BR", "rb",
                                           "Rb", "rB", "RB", NULL};
    for (const char *const *p = prefixes; *p; p++)
        if (strlen(*p) == len && memcmp(*p, name, len) == 0) return 1;
    return 0;
}

int melon_loose_json_detect(const char *line, size_t len) {
    size_t k = 0;
    while (k < len && is_space(line[k])) k++;
    if (k == len || line[k] != '{') return 0;
    k++;
    while (k < len && is_space(line[k])) k++;
    if (k < len && (line[k] == 'u' || line[k] == 'U' || line[k] == 'b' ||
                    line[k] == 'B'))
        k++;
    return k < len && line[k] == '\'';
}

static const char hex_digits[] = "0123456789abcdef";

/* out has room: the caller reserved 3 bytes of output per input byte. */
static void put_unicode_escape(melon_text_buffer *out, uint32_t unit) {
    char *w = out->text + out->len;
    w[0] = '\\';
    w[1] = 'u';
    w[2] = hex_digits[(unit >> 12) & 15];
    w[3] = hex_digits[(unit >> 8) & 15];
    w[4] = hex_digits[(unit >> 4) & 15];
    w[5] = hex_digits[unit & 15];
    out->len += 6;
}

static void put(melon_text_buffer *out, const char *text, size_t len) {
    memcpy(out->text + out->len, text, len);
    out->len += len;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads `digits` hex digits at line[at]; -1 when they are not there. */
static int64_t read_hex(const char *line, size_t len, size_t at, int digits) {
    if (at + (size_t)digits > len) return -1;
    int64_t value = 0;
    for (int k = 0; k < digits; k++) {
        int v = hex_value(line[at + (size_t)k]);
        if (v < 0) return -1;
        value = value * 16 + v;
    }
    return value;
}

/* A code point as a JSON escape (a surrogate pair above U+FFFF). */
static void put_code_point(melon_text_buffer *out, uint32_t cp) {
    if (cp > 0xFFFF) {
        cp -= 0x10000;
        put_unicode_escape(out, 0xD800 + (cp >> 10));
        put_unicode_escape(out, 0xDC00 + (cp & 0x3FF));
    } else {
        put_unicode_escape(out, cp);
    }
}

/* One escape sequence after a backslash at line[*pos - 1]; advances *pos. */
static int convert_escape(const char *line, size_t len, size_t *pos,
                          melon_text_buffer *out, const char **why) {
    if (*pos >= len) {
        *why = "a backslash ends the line";
        return -1;
    }
    char c = line[(*pos)++];
    switch (c) {
    case '\\': put(out, "\\\\", 2); return 0;
    case '\'': put(out, "'", 1); return 0;
    case '"': put(out, "\\\"", 2); return 0;
    case 'n': put(out, "\\n", 2); return 0;
    case 'r': put(out, "\\r", 2); return 0;
    case 't': put(out, "\\t", 2); return 0;
    case 'b': put(out, "\\b", 2); return 0;
    case 'f': put(out, "\\f", 2); return 0;
    case 'a': put_unicode_escape(out, 0x07); return 0;
    case 'v': put_unicode_escape(out, 0x0B); return 0;
    default: break;
    }
    if (c >= '0' && c <= '7') {
        uint32_t value = (uint32_t)(c - '0');
        for (int k = 0; k < 2 && *pos < len && line[*pos] >= '0' &&
                        line[*pos] <= '7';
             k++)
            value = value * 8 + (uint32_t)(line[(*pos)++] - '0');
        put_unicode_escape(out, value);
        return 0;
    }
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (digits) {
        int64_t value = read_hex(line, len, *pos, digits);
        if (value < 0 || value > 0x10FFFF) {
            *why = "a bad \\x, \\u or \\U escape";
            return -1;
        }
        *pos += (size_t)digits;
        put_code_point(out, (uint32_t)value);
        return 0;
    }
    if (c == 'N') {
        *why = "a \\N{...} escape (not supported)";
        return -1;
    }
    /* Python keeps an unknown escape as written: the backslash and c. */
    put(out, "\\\\", 2);
    (*pos)--;
    return 0;
}

/* A quoted string starting at line[*pos] (the quote); advances past it. */
static int convert_string(const char *line, size_t len, size_t *pos, int raw,
                          melon_text_buffer *out, size_t *column,
                          const char **why) {
    size_t open = *pos;
    char quote = line[(*pos)++];
    put(out, "\"", 1);
    for (;;) {
        if (*pos >= len) {
            *column = open + 1;
            *why = "a string is not terminated";
            return -1;
        }
        char c = line[*pos];
        if (c == quote) {
            (*pos)++;
            put(out, "\"", 1);
            return 0;
        }
        if ((unsigned char)c < 0x20) {
            *column = *pos + 1;
            *why = "a control character inside a string";
            return -1;
        }
        size_t at = (*pos)++;
        if (c == '\\' && !raw) {
            if (convert_escape(line, len, pos, out, why) != 0) {
                *column = at + 1; /* the backslash */
                return -1;
            }
        } else if (c == '"' || c == '\\') {
            put(out, "\\", 1);
            put(out, &c, 1);
        } else {
            put(out, &c, 1);
        }
    }
}

/* Drops a comma right before a closing bracket: "(1,)" -> "[1]". */
static void drop_trailing_comma(melon_text_buffer *out) {
    size_t k = out->len;
    while (k > 0 && is_space(out->text[k - 1])) k--;
    if (k > 0 && out->text[k - 1] == ',') out->len = k - 1;
}

static int convert_name(const char *line, size_t len, size_t *pos,
                        melon_text_buffer *out, size_t *column,
                        const char **why) {
    size_t start = *pos;
    while (*pos < len && is_name_char(line[*pos])) (*pos)++;
    const char *name = line + start;
    size_t n = *pos - start;
    if (*pos < len && (line[*pos] == '\'' || line[*pos] == '"') &&
        is_string_prefix(name, n))
        return convert_string(line, len, pos, memchr(name, 'r', n) ||
                                                  memchr(name, 'R', n),
                              out, column, why);
    if (n == 4 && memcmp(name, "True", 4) == 0) put(out, "true", 4);
    else if (n == 5 && memcmp(name, "False", 5) == 0) put(out, "false", 5);
    else if (n == 4 && memcmp(name, "None", 4) == 0) put(out, "null", 4);
    else {
        *column = start + 1;
        *why = "a name other than True, False or None";
        return -1;
    }
    return 0;
}

static void convert_number(const char *line, size_t len, size_t *pos,
                           melon_text_buffer *out) {
    size_t start = *pos;
    while (*pos < len && (is_name_char(line[*pos]) || line[*pos] == '.' ||
                          ((line[*pos] == '+' || line[*pos] == '-') &&
                           (line[*pos - 1] == 'e' || line[*pos - 1] == 'E'))))
        (*pos)++;
    size_t n = *pos - start;
    /* Python 2 long integers: 12L */
    if (n > 1 && (line[start + n - 1] == 'L' || line[start + n - 1] == 'l'))
        n--;
    put(out, line + start, n);
}

int melon_loose_json_convert(const char *line, size_t len,
                             melon_text_buffer *out, size_t *column,
                             const char **why) {
    size_t need = 3 * len + 16;
    if (need < len) return -2;
    if (out->cap < need) {
        char *grown = realloc(out->text, need);
        if (!grown) return -2;
        out->text = grown;
        out->cap = need;
    }
    out->len = 0;
    size_t pos = 0;
    while (pos < len) {
        char c = line[pos];
        int status = 0;
        if (c == '\'' || c == '"') {
            status = convert_string(line, len, &pos, 0, out, column, why);
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   c == '_') {
            status = convert_name(line, len, &pos, out, column, why);
        } else if (c >= '0' && c <= '9') {
            convert_number(line, len, &pos, out);
        } else {
            if (c == ')' || c == '}' || c == ']') drop_trailing_comma(out);
            char mapped = c == '(' ? '[' : c == ')' ? ']' : c;
            put(out, &mapped, 1);
            pos++;
        }
        if (status != 0) return -1;
    }
    out->text[out->len] = '\0';
    return 0;
}
