/* Delimited-text parsing helpers. */
#include "parse.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void melon_fields_free(melon_fields *fields) {
    free(fields->items);
    memset(fields, 0, sizeof *fields);
}

char melon_detect_delimiter(const char *line, size_t len) {
    if (memchr(line, '\t', len)) return '\t';
    if (memchr(line, ',', len)) return ',';
    if (memchr(line, ';', len)) return ';';
    if (memmem(line, len, "::", 2)) return MELON_DELIM_DOUBLE_COLON;
    return MELON_DELIM_WHITESPACE;
}

int melon_line_is_blank(const char *line, size_t len) {
    for (size_t k = 0; k < len; k++)
        if (line[k] != ' ' && line[k] != '\t') return 0;
    return 1;
}

static int push_field(melon_fields *out, char *text, size_t len,
                      melon_err *err) {
    if (out->count == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 16;
        melon_field *grown = realloc(out->items, cap * sizeof *grown);
        if (!grown)
            return melon_fail(err, "out of memory splitting a line");
        out->items = grown;
        out->cap = cap;
    }
    text[len] = '\0';
    out->items[out->count].text = text;
    out->items[out->count].len = len;
    out->count++;
    return 0;
}

static int split_whitespace(melon_fields *out, char *line, size_t len,
                            melon_err *err) {
    char *p = line, *end = line + len;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p == end) return 0;
        char *start = p;
        while (p < end && *p != ' ' && *p != '\t') p++;
        size_t n = (size_t)(p - start);
        if (p < end) p++; /* the separator becomes the field's NUL */
        if (push_field(out, start, n, err) != 0) return -1;
    }
}

static int is_trimmed(char c, char delimiter) {
    return c == ' ' || (c == '\t' && delimiter != '\t');
}

/* Unquotes a field that starts at `p` with '"' in place; returns the
 * position of the delimiter (or end) that follows it and its length. */
static char *unquote(char *p, char *end, char delimiter, size_t *len) {
    char *w = p, *r = p + 1;
    while (r < end) {
        if (*r == '"') {
            if (r + 1 < end && r[1] == '"') {
                *w++ = '"';
                r += 2;
                continue;
            }
            r++;
            break;
        }
        *w++ = *r++;
    }
    /* Text between the closing quote and the delimiter is kept, except
     * trailing spaces; the quoted text itself is never trimmed. */
    char *quoted_end = w;
    while (r < end && *r != delimiter) *w++ = *r++;
    while (w > quoted_end && is_trimmed(w[-1], delimiter)) w--;
    *len = (size_t)(w - p);
    return r;
}

/* Fields separated by "::", kept as they are (no quoting, no trimming). */
static int split_double_colon(melon_fields *out, char *line, size_t len,
                              melon_err *err) {
    char *p = line, *end = line + len;
    for (;;) {
        char *next = memmem(p, (size_t)(end - p), "::", 2);
        size_t n = (size_t)((next ? next : end) - p);
        if (push_field(out, p, n, err) != 0) return -1;
        if (!next) return 0;
        p = next + 2;
    }
}

int melon_split_fields(melon_fields *out, char *line, size_t len,
                       char delimiter, melon_err *err) {
    out->count = 0;
    if (delimiter == MELON_DELIM_WHITESPACE)
        return split_whitespace(out, line, len, err);
    if (delimiter == MELON_DELIM_DOUBLE_COLON)
        return split_double_colon(out, line, len, err);
    char *p = line, *end = line + len;
    for (;;) {
        while (p < end && is_trimmed(*p, delimiter)) p++;
        char *next;
        size_t n;
        if (p < end && *p == '"') {
            next = unquote(p, end, delimiter, &n);
        } else {
            next = memchr(p, delimiter, (size_t)(end - p));
            if (!next) next = end;
            n = (size_t)(next - p);
            while (n > 0 && is_trimmed(p[n - 1], delimiter)) n--;
        }
        if (push_field(out, p, n, err) != 0) return -1;
        if (next == end) return 0;
        p = next + 1;
    }
}

static const double exact_powers_of_ten[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Rare inputs (many digits, large exponents): the C library decides. */
static double parse_slow(const char *text, size_t len) {
    char local[128];
    if (len < sizeof local) {
        memcpy(local, text, len);
        local[len] = '\0';
        return strtod(local, NULL);
    }
    char *copy = malloc(len + 1);
    if (!copy) return NAN;
    memcpy(copy, text, len);
    copy[len] = '\0';
    double value = strtod(copy, NULL);
    free(copy);
    return value;
}

int melon_parse_number(const char *text, size_t len, double *out) {
    size_t i = 0;
    int negative = 0;
    if (i < len && (text[i] == '+' || text[i] == '-')) {
        negative = text[i] == '-';
        i++;
    }
    const size_t sign_len = i;
    uint64_t mantissa = 0; /* up to 19 significant digits */
    int digits = 0, dropped = 0, any_digit = 0;
    long exponent = 0;
    for (; i < len && is_digit(text[i]); i++) {
        any_digit = 1;
        if (digits < 19) {
            mantissa = mantissa * 10 + (uint64_t)(text[i] - '0');
            if (mantissa) digits++;
        } else {
            exponent++;
            if (text[i] != '0') dropped = 1;
        }
    }
    if (i < len && text[i] == '.') {
        for (i++; i < len && is_digit(text[i]); i++) {
            any_digit = 1;
            if (digits < 19) {
                mantissa = mantissa * 10 + (uint64_t)(text[i] - '0');
                if (mantissa) digits++;
                exponent--;
            } else if (text[i] != '0') {
                dropped = 1;
            }
        }
    }
    if (!any_digit) return -1;
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        int exp_negative = 0;
        if (i < len && (text[i] == '+' || text[i] == '-')) {
            exp_negative = text[i] == '-';
            i++;
        }
        if (i >= len || !is_digit(text[i])) return -1;
        long e = 0;
        for (; i < len && is_digit(text[i]); i++)
            if (e < 1000000) e = e * 10 + (text[i] - '0');
        exponent += exp_negative ? -e : e;
    }
    if (i != len) return -1;

    double value;
    if (mantissa == 0)
        value = 0.0;
    else if (!dropped && mantissa <= ((uint64_t)1 << 53) && exponent >= -22 &&
             exponent <= 22)
        /* Both operands exact: one correctly rounded operation. */
        value = exponent >= 0
                    ? (double)mantissa * exact_powers_of_ten[exponent]
                    : (double)mantissa / exact_powers_of_ten[-exponent];
    else
        value = parse_slow(text + sign_len, len - sign_len);
    if (!isfinite(value)) return -2;
    if (negative) value = -value;
    if (value == 0) value = 0.0;
    *out = value;
    return 0;
}

static const char *const user_names[] = {"user", "userId", "user_id",
                                         "reviewerID", NULL};
static const char *const item_names[] = {
    "item", "itemId", "item_id", "movieId", "poi", "poi_id",
    "asin", "business_id", NULL};
static const char *const time_names[] = {"time", "timestamp",
                                         "unixReviewTime", "date", NULL};

static int in_list(const char *name, const char *const *list) {
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0) return 1;
    return 0;
}

melon_role melon_header_role(const char *name) {
    if (in_list(name, user_names)) return MELON_ROLE_USER;
    if (in_list(name, item_names)) return MELON_ROLE_ITEM;
    if (in_list(name, time_names)) return MELON_ROLE_TIME;
    return MELON_ROLE_NONE;
}

const char *melon_role_names(melon_role role) {
    switch (role) {
    case MELON_ROLE_USER: return "user, userId, user_id, reviewerID";
    case MELON_ROLE_ITEM:
        return "item, itemId, item_id, movieId, poi, poi_id, asin, "
               "business_id";
    case MELON_ROLE_TIME: return "time, timestamp, unixReviewTime, date";
    default: return "";
    }
}

static int all_digits(const char *text, size_t len) {
    if (len == 0) return 0;
    for (size_t k = 0; k < len; k++)
        if (!is_digit(text[k])) return 0;
    return 1;
}

void melon_columns_free(melon_columns *cols) {
    for (int k = 0; k < 3; k++) free(cols->names[k]);
    memset(cols, 0, sizeof *cols);
}

int melon_columns_parse(melon_columns *cols, const char *option,
                        melon_err *err) {
    memset(cols, 0, sizeof *cols);
    const char *p = option;
    int n_tokens = 0, n_numbers = 0;
    const char *start[3];
    size_t len[3];
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *stop = comma ? comma : p + strlen(p);
        while (p < stop && *p == ' ') p++;
        size_t n = (size_t)(stop - p);
        while (n > 0 && p[n - 1] == ' ') n--;
        if (n == 0 || n_tokens == 3) goto bad;
        start[n_tokens] = p;
        len[n_tokens] = n;
        if (all_digits(p, n)) n_numbers++;
        n_tokens++;
        if (!comma) break;
        p = comma + 1;
    }
    if (n_tokens != 3 || (n_numbers != 0 && n_numbers != 3)) goto bad;
    if (n_numbers == 3) {
        for (int k = 0; k < 3; k++) {
            if (len[k] > 6) goto bad;
            size_t number = (size_t)strtoul(start[k], NULL, 10);
            if (number < 1) goto bad;
            cols->index[k] = number - 1;
        }
    } else {
        cols->by_name = 1;
        for (int k = 0; k < 3; k++) {
            cols->names[k] = strndup(start[k], len[k]);
            if (!cols->names[k]) {
                melon_columns_free(cols);
                return melon_fail(err, "out of memory reading columns");
            }
        }
    }
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++) {
            int same = cols->by_name
                           ? strcasecmp(cols->names[a], cols->names[b]) == 0
                           : cols->index[a] == cols->index[b];
            if (same) {
                melon_columns_free(cols);
                return melon_fail(err,
                                  "columns '%s': user, item and time must be "
                                  "three different columns", option);
            }
        }
    return 0;
bad:
    melon_columns_free(cols);
    return melon_fail(err,
                      "columns '%s': expected three header names or three "
                      "1-based field numbers for user,item,time (e.g. "
                      "\"userId,movieId,timestamp\" or \"1,2,4\")", option);
}

void melon_quote_value(char *dst, size_t cap, const char *text, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const size_t shown_max = 48;
    size_t w = 0;
    if (cap == 0) return;
    for (size_t k = 0; k < len && k < shown_max; k++) {
        unsigned char c = (unsigned char)text[k];
        if (c >= 0x20 && c < 0x7f) {
            if (w + 1 >= cap) break;
            dst[w++] = (char)c;
        } else {
            if (w + 4 >= cap) break;
            dst[w++] = '\\';
            dst[w++] = 'x';
            dst[w++] = hex[c >> 4];
            dst[w++] = hex[c & 15];
        }
    }
    if (len > shown_max && w + 3 < cap) {
        memcpy(dst + w, "...", 3);
        w += 3;
    }
    dst[w] = '\0';
}
