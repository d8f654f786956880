/* The learning-rate matrix dump of one batch (MeLON paper, Figure 4).
 *
 * Cells arrive in any order from the strategy's update; a column is one
 * model coordinate (tensor, row, col), found through an open-addressing hash
 * of its packed key. Nothing is written until close, which orders the
 * columns, groups the cells by row and writes both files. */
#include "update/lr_matrix.h"

#include "core/atomic_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DUMP_TENSORS 64

typedef struct {
    int32_t row;
    int32_t column;   /* column id in order of first appearance */
    uint32_t seq;     /* arrival order: the last of equal cells wins */
    float rate;
} dump_cell;

typedef struct {
    uint8_t tensor;   /* interned tensor id */
    int32_t row;
    int32_t col;
} column_key;

struct melon_lr_dump {
    char *path;
    int n_rows;
    char **row_name;                 /* [n_rows], NULL = the row number */
    int n_tensors;
    char *tensor_name[MAX_DUMP_TENSORS];
    int last_tensor;                 /* cache of the last interned name */
    column_key *columns;             /* [n_columns] by column id */
    size_t n_columns, columns_cap;
    int32_t *slots;                  /* hash: column id or -1 */
    size_t slots_cap;                /* power of two */
    dump_cell *cells;
    size_t n_cells, cells_cap;
    int failed;                      /* an allocation in _set failed */
};

int melon_lr_dump_open(melon_lr_dump **out, const char *path, int n_rows,
                       melon_err *err) {
    *out = NULL;
    if (!path || !*path) return melon_fail(err, "lr-matrix dump: empty path");
    if (n_rows < 0)
        return melon_fail(err, "lr-matrix dump: %d rows", n_rows);
    melon_lr_dump *d = melon_calloc(1, sizeof *d, err);
    if (!d) return -1;
    d->n_rows = n_rows;
    d->last_tensor = -1;
    d->path = melon_alloc(strlen(path) + 1, err);
    d->row_name = melon_calloc((size_t)n_rows + 1, sizeof *d->row_name, err);
    d->slots_cap = 1024;
    d->slots = melon_alloc(d->slots_cap * sizeof *d->slots, err);
    if (!d->path || !d->row_name || !d->slots) {
        melon_lr_dump_abort(d);
        return -1;
    }
    strcpy(d->path, path);
    memset(d->slots, 0xff, d->slots_cap * sizeof *d->slots);
    *out = d;
    return 0;
}

void melon_lr_dump_abort(melon_lr_dump *d) {
    if (!d) return;
    free(d->path);
    if (d->row_name)
        for (int r = 0; r < d->n_rows; r++) free(d->row_name[r]);
    free(d->row_name);
    for (int k = 0; k < d->n_tensors; k++) free(d->tensor_name[k]);
    free(d->columns);
    free(d->slots);
    free(d->cells);
    free(d);
}

void melon_lr_dump_name_row(melon_lr_dump *d, int row, const char *name) {
    if (!d || row < 0 || row >= d->n_rows) return;
    char *copy = strdup(name);
    if (!copy) {
        d->failed = 1;
        return;
    }
    free(d->row_name[row]);
    d->row_name[row] = copy;
}

static int intern_tensor(melon_lr_dump *d, const char *name) {
    if (d->last_tensor >= 0 &&
        strcmp(d->tensor_name[d->last_tensor], name) == 0)
        return d->last_tensor;
    for (int k = 0; k < d->n_tensors; k++)
        if (strcmp(d->tensor_name[k], name) == 0) return d->last_tensor = k;
    if (d->n_tensors == MAX_DUMP_TENSORS) return -1;
    char *copy = strdup(name);
    if (!copy) return -1;
    d->tensor_name[d->n_tensors] = copy;
    return d->last_tensor = d->n_tensors++;
}

static uint64_t hash_key(column_key key) {
    uint64_t h = ((uint64_t)key.tensor << 56) ^ ((uint64_t)(uint32_t)key.row << 24) ^
                 (uint64_t)(uint32_t)key.col;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static int same_key(column_key a, column_key b) {
    return a.tensor == b.tensor && a.row == b.row && a.col == b.col;
}

static int grow_slots(melon_lr_dump *d) {
    size_t cap = d->slots_cap * 2;
    int32_t *slots = malloc(cap * sizeof *slots);
    if (!slots) return -1;
    memset(slots, 0xff, cap * sizeof *slots);
    for (size_t c = 0; c < d->n_columns; c++) {
        size_t at = hash_key(d->columns[c]) & (cap - 1);
        while (slots[at] >= 0) at = (at + 1) & (cap - 1);
        slots[at] = (int32_t)c;
    }
    free(d->slots);
    d->slots = slots;
    d->slots_cap = cap;
    return 0;
}

/* Column id of key, added when new; -1 when out of memory. */
static int32_t column_of(melon_lr_dump *d, column_key key) {
    size_t at = hash_key(key) & (d->slots_cap - 1);
    while (d->slots[at] >= 0) {
        if (same_key(d->columns[d->slots[at]], key)) return d->slots[at];
        at = (at + 1) & (d->slots_cap - 1);
    }
    if (d->n_columns == d->columns_cap) {
        size_t cap = d->columns_cap ? 2 * d->columns_cap : 1024;
        column_key *columns = realloc(d->columns, cap * sizeof *columns);
        if (!columns) return -1;
        d->columns = columns;
        d->columns_cap = cap;
    }
    int32_t id = (int32_t)d->n_columns++;
    d->columns[id] = key;
    d->slots[at] = id;
    if (2 * d->n_columns > d->slots_cap && grow_slots(d) != 0) return -1;
    return id;
}

void melon_lr_dump_set(melon_lr_dump *d, int row, const char *tensor,
                       int32_t tensor_row, int col, float rate) {
    if (!d || row < 0 || row >= d->n_rows) return;
    int t = intern_tensor(d, tensor);
    if (t < 0) {
        d->failed = 1;
        return;
    }
    int32_t column = column_of(d, (column_key){(uint8_t)t, tensor_row, col});
    if (column < 0) {
        d->failed = 1;
        return;
    }
    if (d->n_cells == d->cells_cap) {
        size_t cap = d->cells_cap ? 2 * d->cells_cap : 4096;
        dump_cell *cells = realloc(d->cells, cap * sizeof *cells);
        if (!cells) {
            d->failed = 1;
            return;
        }
        d->cells = cells;
        d->cells_cap = cap;
    }
    d->cells[d->n_cells] =
        (dump_cell){row, column, (uint32_t)d->n_cells, rate};
    d->n_cells++;
}

typedef struct {
    column_key key;
    int32_t id;
} keyed_column;

static int compare_columns(const void *a, const void *b) {
    const column_key *x = &((const keyed_column *)a)->key;
    const column_key *y = &((const keyed_column *)b)->key;
    if (x->tensor != y->tensor) return x->tensor < y->tensor ? -1 : 1;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    return (x->col > y->col) - (x->col < y->col);
}

/* Cells of one row, by output column then arrival. */
static int compare_cells(const void *a, const void *b) {
    const dump_cell *x = a, *y = b;
    if (x->column != y->column) return x->column < y->column ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* One CSV field, quoted (RFC 4180) when it holds a comma, a quote or a
 * line break - column names always do: "user_emb[17,3]". */
static void write_field(FILE *f, const char *text) {
    if (!strpbrk(text, ",\"\r\n")) {
        fputs(text, f);
        return;
    }
    fputc('"', f);
    for (const char *c = text; *c; c++) {
        if (*c == '"') fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

static void write_column_name(FILE *f, const melon_lr_dump *d,
                              const column_key *key) {
    char name[256];
    snprintf(name, sizeof name, "%s[%d,%d]", d->tensor_name[key->tensor],
             (int)key->row, (int)key->col);
    write_field(f, name);
}

static void write_row_name(FILE *f, const melon_lr_dump *d, int row) {
    if (d->row_name[row])
        write_field(f, d->row_name[row]);
    else
        fprintf(f, "%d", row);
}

void melon_lr_dump_means_path(char *out, size_t size, const char *path) {
    size_t len = strlen(path);
    if (len >= 4 && strcmp(path + len - 4, ".csv") == 0)
        snprintf(out, size, "%.*s-means.csv", (int)(len - 4), path);
    else
        snprintf(out, size, "%s-means.csv", path);
}

/* Orders the columns, groups the cells by row (row_start[n_rows + 1]) with
 * one cell per (row, column) - the last set - and the column ids rewritten
 * to output positions (order[position] = column id). */
static int arrange(melon_lr_dump *d, int32_t *order, size_t *row_start,
                   melon_err *err) {
    size_t n_cols = d->n_columns;
    int32_t *position = melon_alloc((n_cols + 1) * sizeof *position, err);
    dump_cell *grouped = melon_alloc((d->n_cells + 1) * sizeof *grouped, err);
    if (!position || !grouped) {
        free(position);
        free(grouped);
        return -1;
    }
    keyed_column *sorted = melon_alloc((n_cols + 1) * sizeof *sorted, err);
    if (!sorted) {
        free(position);
        free(grouped);
        return -1;
    }
    for (size_t c = 0; c < n_cols; c++)
        sorted[c] = (keyed_column){d->columns[c], (int32_t)c};
    qsort(sorted, n_cols, sizeof *sorted, compare_columns);
    for (size_t c = 0; c < n_cols; c++) {
        order[c] = sorted[c].id;
        position[order[c]] = (int32_t)c;
    }
    free(sorted);
    /* Counting sort of the cells by row (stable). */
    memset(row_start, 0, ((size_t)d->n_rows + 1) * sizeof *row_start);
    for (size_t a = 0; a < d->n_cells; a++) row_start[d->cells[a].row + 1]++;
    for (int r = 0; r < d->n_rows; r++) row_start[r + 1] += row_start[r];
    size_t *fill = melon_alloc(((size_t)d->n_rows + 1) * sizeof *fill, err);
    if (!fill) {
        free(position);
        free(grouped);
        return -1;
    }
    memcpy(fill, row_start, ((size_t)d->n_rows + 1) * sizeof *fill);
    for (size_t a = 0; a < d->n_cells; a++) {
        dump_cell c = d->cells[a];
        c.column = position[c.column];
        grouped[fill[c.row]++] = c;
    }
    free(fill);
    free(position);
    /* Within a row: by column, keeping only the last of equal cells. */
    size_t kept = 0;
    for (int r = 0; r < d->n_rows; r++) {
        size_t begin = row_start[r], end = row_start[r + 1];
        qsort(grouped + begin, end - begin, sizeof *grouped, compare_cells);
        row_start[r] = kept;
        for (size_t a = begin; a < end; a++) {
            if (a + 1 < end && grouped[a + 1].column == grouped[a].column)
                continue;
            grouped[kept++] = grouped[a];
        }
    }
    row_start[d->n_rows] = kept;
    free(d->cells);
    d->cells = grouped;
    d->n_cells = kept;
    return 0;
}

static void write_matrix(FILE *f, const melon_lr_dump *d, const int32_t *order,
                         const size_t *row_start) {
    fputs("interaction", f);
    for (size_t c = 0; c < d->n_columns; c++) {
        fputc(',', f);
        write_column_name(f, d, &d->columns[order[c]]);
    }
    fputc('\n', f);
    for (int r = 0; r < d->n_rows; r++) {
        write_row_name(f, d, r);
        size_t a = row_start[r], end = row_start[r + 1];
        for (size_t c = 0; c < d->n_columns; c++) {
            fputc(',', f);
            if (a < end && (size_t)d->cells[a].column == c) {
                fprintf(f, "%.9g", (double)d->cells[a].rate);
                a++;
            }
        }
        fputc('\n', f);
    }
}

static int write_means(FILE *f, const melon_lr_dump *d, const int32_t *order,
                       const size_t *row_start, melon_err *err) {
    double *col_sum = melon_calloc(d->n_columns + 1, sizeof *col_sum, err);
    size_t *col_cells = melon_calloc(d->n_columns + 1, sizeof *col_cells, err);
    if (!col_sum || !col_cells) {
        free(col_sum);
        free(col_cells);
        return -1;
    }
    fputs("axis,name,mean,cells\n", f);
    for (int r = 0; r < d->n_rows; r++) {
        double sum = 0.0;
        size_t begin = row_start[r], end = row_start[r + 1];
        for (size_t a = begin; a < end; a++) {
            sum += d->cells[a].rate;
            col_sum[d->cells[a].column] += d->cells[a].rate;
            col_cells[d->cells[a].column]++;
        }
        fputs("row,", f);
        write_row_name(f, d, r);
        if (end > begin)
            fprintf(f, ",%.9g,%zu\n", sum / (double)(end - begin), end - begin);
        else
            fputs(",,0\n", f);
    }
    for (size_t c = 0; c < d->n_columns; c++) {
        fputs("column,", f);
        write_column_name(f, d, &d->columns[order[c]]);
        fprintf(f, ",%.9g,%zu\n", col_sum[c] / (double)col_cells[c],
                col_cells[c]);
    }
    free(col_sum);
    free(col_cells);
    return 0;
}

int melon_lr_dump_close(melon_lr_dump *d, melon_err *err) {
    if (!d) return melon_fail(err, "lr-matrix dump: not open");
    if (d->failed) {
        melon_fail(err, "%s: out of memory while recording the learning-rate "
                        "matrix", d->path);
        melon_lr_dump_abort(d);
        return -1;
    }
    int rc = -1;
    char means[4200];
    melon_lr_dump_means_path(means, sizeof means, d->path);
    melon_atomic_file matrix_file = {0}, means_file = {0};
    int32_t *order = melon_alloc((d->n_columns + 1) * sizeof *order, err);
    size_t *row_start =
        melon_alloc(((size_t)d->n_rows + 1) * sizeof *row_start, err);
    if (!order || !row_start || arrange(d, order, row_start, err) != 0)
        goto done;
    if (melon_atomic_open(&matrix_file, d->path, err) != 0) goto done;
    write_matrix(matrix_file.f, d, order, row_start);
    if (melon_atomic_open(&means_file, means, err) != 0) goto done;
    if (write_means(means_file.f, d, order, row_start, err) != 0) goto done;
    if (melon_atomic_commit(&matrix_file, err) != 0) goto done;
    if (melon_atomic_commit(&means_file, err) != 0) goto done;
    rc = 0;
done:
    if (matrix_file.f) melon_atomic_abort(&matrix_file);
    if (means_file.f) melon_atomic_abort(&means_file);
    free(order);
    free(row_start);
    melon_lr_dump_abort(d);
    return rc;
}
