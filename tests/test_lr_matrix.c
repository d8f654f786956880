/* The learning-rate matrix dump (paper Figure 4, src/update/lr_matrix.h):
 * the CSV's shape, column names and order, quoting, empty cells, the last
 * of repeated cells, the row and column means, atomic writing; and the
 * dump the paper-form strategies write for online batch K, whose non-empty
 * cells are exactly the pairs each interaction touches, constant along
 * rows for melon-i and along columns for melon-p. */
#include "melon_paper_fixture.h"

#include "update/lr_matrix.h"

#include <dirent.h>
#include <sys/stat.h>
#include <math.h>

/* ---- a small CSV reader (RFC 4180 quoting) */

typedef struct {
    int n_lines;
    int n_fields[4096];
    char **fields[4096];
} csv_file;

static char *next_field(const char **at) {
    const char *p = *at;
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    int quoted = *p == '"';
    if (quoted) p++;
    for (;;) {
        if (quoted && *p == '"' && p[1] == '"') {
            p++;
        } else if (quoted && *p == '"') {
            p++;
            quoted = 0;
            continue;
        } else if (!quoted && (*p == ',' || *p == '\n' || *p == 0)) {
            break;
        }
        if (len + 2 > cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        out[len++] = *p++;
    }
    out[len] = 0;
    *at = p;
    return out;
}

static void csv_read(csv_file *csv, const char *path) {
    char *text = test_read_file(path);
    assert_non_null(text);
    memset(csv, 0, sizeof *csv);
    const char *p = text;
    while (*p) {
        assert_true(csv->n_lines < 4096);
        int line = csv->n_lines++, cap = 16;
        csv->fields[line] = malloc((size_t)cap * sizeof(char *));
        for (;;) {
            if (csv->n_fields[line] == cap) {
                cap *= 2;
                csv->fields[line] = realloc(csv->fields[line], (size_t)cap * sizeof(char *));
            }
            csv->fields[line][csv->n_fields[line]++] = next_field(&p);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == '\n') p++;
            break;
        }
    }
    free(text);
}

static void csv_free(csv_file *csv) {
    for (int l = 0; l < csv->n_lines; l++) {
        for (int f = 0; f < csv->n_fields[l]; f++) free(csv->fields[l][f]);
        free(csv->fields[l]);
    }
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* ---- the writer */

static void writer_layout_names_empty_cells_and_means(void **state) {
    (void)state;
    melon_err err = {{0}};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_tmp_path("layout"));
    assert_int_equal(mkdir(dir, 0777), 0);
    char path[4200], means[4200];
    snprintf(path, sizeof path, "%s/W.csv", dir);
    snprintf(means, sizeof means, "%s/W-means.csv", dir);
    melon_lr_dump *d;
    assert_int_equal(melon_lr_dump_open(&d, path, 3, &err), 0);
    melon_lr_dump_name_row(d, 0, "first, \"row\"");
    melon_lr_dump_name_row(d, 2, "r2");
    melon_lr_dump_set(d, 1, "user_emb", 17, 3, 0.5f);
    melon_lr_dump_set(d, 0, "user_emb", 2, 0, 0.25f);
    melon_lr_dump_set(d, 0, "item_emb", 5, 1, 0.125f);
    melon_lr_dump_set(d, 2, "user_emb", 17, 3, 0.75f);
    melon_lr_dump_set(d, 1, "user_emb", 2, 0, 1.0f);
    melon_lr_dump_set(d, 0, "user_emb", 2, 0, 0.375f); /* the last wins */
    melon_lr_dump_set(d, 3, "user_emb", 2, 0, 9.0f);   /* no such row */
    melon_lr_dump_set(d, -1, "user_emb", 2, 0, 9.0f);
    melon_lr_dump_set(d, 1, "mlp_w1", 0, 0, 2.0f);
    assert_int_equal(count_entries(dir), 0); /* nothing before close */
    assert_int_equal(melon_lr_dump_close(d, &err), 0);
    assert_int_equal(count_entries(dir), 2); /* no temporaries left */

    csv_file w;
    csv_read(&w, path);
    const char *header[] = {"interaction", "user_emb[2,0]", "user_emb[17,3]",
                            "item_emb[5,1]", "mlp_w1[0,0]"};
    const char *rows[3][5] = {{"first, \"row\"", "0.375", "", "0.125", ""},
                              {"1", "1", "0.5", "", "2"},
                              {"r2", "", "0.75", "", ""}};
    assert_int_equal(w.n_lines, 4);
    for (int f = 0; f < 5; f++) assert_string_equal(w.fields[0][f], header[f]);
    for (int r = 0; r < 3; r++) {
        assert_int_equal(w.n_fields[r + 1], 5);
        for (int f = 0; f < 5; f++) assert_string_equal(w.fields[r + 1][f], rows[r][f]);
    }
    char *raw = test_read_file(path);
    assert_non_null(strstr(raw, "\"user_emb[17,3]\"")); /* quoted names */
    assert_non_null(strstr(raw, "\"first, \"\"row\"\"\""));
    free(raw);
    csv_free(&w);

    csv_file m;
    csv_read(&m, means);
    const char *expect[][4] = {
        {"axis", "name", "mean", "cells"},
        {"row", "first, \"row\"", "0.25", "2"},
        {"row", "1", "1.16666667", "3"},
        {"row", "r2", "0.75", "1"},
        {"column", "user_emb[2,0]", "0.6875", "2"},
        {"column", "user_emb[17,3]", "0.625", "2"},
        {"column", "item_emb[5,1]", "0.125", "1"},
        {"column", "mlp_w1[0,0]", "2", "1"}};
    assert_int_equal(m.n_lines, 8);
    for (int l = 0; l < 8; l++) {
        assert_int_equal(m.n_fields[l], 4);
        assert_string_equal(m.fields[l][0], expect[l][0]);
        assert_string_equal(m.fields[l][1], expect[l][1]);
        assert_string_equal(m.fields[l][3], expect[l][3]);
        if (l > 0) assert_close(atof(m.fields[l][2]), atof(expect[l][2]), 1e-7);
    }
    csv_free(&m);
}

static void means_path_and_failures(void **state) {
    (void)state;
    melon_err err = {{0}};
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", test_tmp_path("paths"));
    assert_int_equal(mkdir(dir, 0777), 0);
    /* no ".csv": the means file appends "-means.csv" */
    snprintf(path, sizeof path, "%s/lr.txt", dir);
    melon_lr_dump *d;
    assert_int_equal(melon_lr_dump_open(&d, path, 1, &err), 0);
    melon_lr_dump_set(d, 0, "out_w", 0, 4, 0.5f);
    assert_int_equal(melon_lr_dump_close(d, &err), 0);
    char means[4300];
    snprintf(means, sizeof means, "%s-means.csv", path);
    assert_true(test_file_exists(path));
    assert_true(test_file_exists(means));
    /* abort writes nothing */
    snprintf(path, sizeof path, "%s/aborted.csv", dir);
    assert_int_equal(melon_lr_dump_open(&d, path, 2, &err), 0);
    melon_lr_dump_set(d, 1, "out_w", 0, 1, 0.5f);
    melon_lr_dump_abort(d);
    assert_false(test_file_exists(path));
    /* an unwritable place fails with a message and leaves nothing */
    snprintf(path, sizeof path, "%s/missing/lr.csv", dir);
    assert_int_equal(melon_lr_dump_open(&d, path, 1, &err), 0);
    melon_lr_dump_set(d, 0, "out_w", 0, 1, 0.5f);
    assert_int_equal(melon_lr_dump_close(d, &err), -1);
    assert_non_null(strstr(err.msg, "missing/lr.csv"));
    assert_int_equal(count_entries(dir), 2);
    assert_int_equal(melon_lr_dump_open(&d, "", 1, &err), -1);
}

/* ---- the strategies' dump */

static int column_index(const csv_file *w, const char *tensor, int32_t row,
                        int col) {
    char name[256];
    snprintf(name, sizeof name, "%s[%d,%d]", tensor, (int)row, col);
    for (int f = 1; f < w->n_fields[0]; f++)
        if (strcmp(w->fields[0][f], name) == 0) return f;
    return -1;
}

static void check_strategy_dump(const char *model, const char *strategy) {
    fixture_options o = {model, strategy, 20, 2, 4, 3, MELON_AGG_MEAN, -0.5f,
                         0.5f, 0, 0, MELON_EMPTY_ZERO, MELON_P_INPUTS_BATCH, 0.0f};
    paper_fixture f;
    fixture_init(&f, &o);
    fixture_randomise_meta(&f, 0.5f, -0.5f, 3);
    char path[4200];
    snprintf(path, sizeof path, "%s", test_tmp_path("dump.csv"));
    /* the strategy keeps its own copy of its settings */
    paper_state *st = f.strategy.impl;
    st->cfg.dump_lr_matrix = path;
    st->cfg.dump_batch = 1;
    melon_err err = {{0}};
    /* online batch 0 (the first seen online): not the one asked for */
    assert_int_equal(f.strategy.ops->update(&f.strategy, &f.ctx, f.batch, f.n, &err), 0);
    assert_false(test_file_exists(path));
    f.ctx.batch++;
    assert_int_equal(f.strategy.ops->update(&f.strategy, &f.ctx, f.batch, f.n, &err), 0);
    assert_true(test_file_exists(path));

    csv_file w;
    csv_read(&w, path);
    assert_int_equal(w.n_lines, 1 + f.n);
    /* columns: every coordinate some triple touches, each once */
    int expected_columns = 0;
    const melon_model *m = &f.model;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE) {
            expected_columns += t->rows * t->cols;
            continue;
        }
        int seen[FIX_ITEMS] = {0}, distinct = 0;
        for (int r = 0; r < f.n; r++) {
            int32_t rows[2] = {t->kind == MELON_USER_TABLE ? f.batch[r].user : f.batch[r].item,
                               t->kind == MELON_USER_TABLE ? f.batch[r].user : f.batch[r].negative};
            for (int c = 0; c < 2; c++)
                if (!seen[rows[c]]++) distinct++;
        }
        expected_columns += distinct * t->cols;
    }
    assert_int_equal(w.n_fields[0], 1 + expected_columns);
    for (int r = 0; r < f.n; r++) {
        const melon_triple *tr = &f.batch[r];
        char name[64];
        snprintf(name, sizeof name, "u=u%d i=i%d j=i%d", tr->user, tr->item, tr->negative);
        assert_string_equal(w.fields[r + 1][0], name);
        assert_int_equal(w.n_fields[r + 1], w.n_fields[0]);
        /* non-empty exactly where the triple touches the parameter */
        int touched = 0;
        for (int k = 0; k < m->n_tensors; k++) {
            const melon_tensor *t = &m->tensor[k];
            for (int32_t row = 0; row < t->rows; row++) {
                int hit = t->kind == MELON_DENSE ||
                          (t->kind == MELON_USER_TABLE && row == tr->user) ||
                          (t->kind == MELON_ITEM_TABLE &&
                           (row == tr->item || row == tr->negative));
                for (int col = 0; col < t->cols; col++) {
                    int at = column_index(&w, t->name, row, col);
                    if (!hit) {
                        if (at > 0) assert_string_equal(w.fields[r + 1][at], "");
                        continue;
                    }
                    assert_true(at > 0);
                    double rate = atof(w.fields[r + 1][at]);
                    assert_true(rate > 0.0 && rate < 1.0);
                    touched++;
                }
            }
        }
        int non_empty = 0;
        for (int c = 1; c < w.n_fields[0]; c++) non_empty += w.fields[r + 1][c][0] != 0;
        assert_int_equal(non_empty, touched);
    }
    /* melon-i: each row constant; melon-p: each column constant */
    if (strcmp(strategy, "melon-i") == 0)
        for (int r = 1; r <= f.n; r++) {
            const char *first = NULL;
            for (int c = 1; c < w.n_fields[0]; c++) {
                if (!w.fields[r][c][0]) continue;
                if (!first) first = w.fields[r][c];
                assert_string_equal(w.fields[r][c], first);
            }
        }
    if (strcmp(strategy, "melon-p") == 0)
        for (int c = 1; c < w.n_fields[0]; c++) {
            const char *first = NULL;
            for (int r = 1; r <= f.n; r++) {
                if (!w.fields[r][c][0]) continue;
                if (!first) first = w.fields[r][c];
                assert_string_equal(w.fields[r][c], first);
            }
        }
    if (strcmp(strategy, "melon") == 0) { /* neither */
        int row_varies = 0, col_varies = 0;
        for (int c = 2; c < w.n_fields[0]; c++)
            row_varies |= w.fields[1][c][0] && w.fields[1][c - 1][0] &&
                          strcmp(w.fields[1][c], w.fields[1][c - 1]) != 0;
        for (int c = 1; c < w.n_fields[0]; c++)
            for (int r = 2; r <= f.n; r++)
                col_varies |= w.fields[r][c][0] && w.fields[r - 1][c][0] &&
                              strcmp(w.fields[r][c], w.fields[r - 1][c]) != 0;
        assert_true(row_varies && col_varies);
    }
    /* the means file agrees with the matrix */
    char means[4300];
    snprintf(means, sizeof means, "%.*s-means.csv", (int)(strlen(path) - 4), path);
    csv_file mf;
    csv_read(&mf, means);
    assert_int_equal(mf.n_lines, 1 + f.n + (w.n_fields[0] - 1));
    for (int r = 1; r <= f.n; r++) {
        double sum = 0.0;
        int cells = 0;
        for (int c = 1; c < w.n_fields[0]; c++)
            if (w.fields[r][c][0]) sum += atof(w.fields[r][c]), cells++;
        assert_string_equal(mf.fields[r][0], "row");
        assert_string_equal(mf.fields[r][1], w.fields[r][0]);
        assert_close(atof(mf.fields[r][2]), sum / cells, 1e-6);
        assert_int_equal(atoi(mf.fields[r][3]), cells);
    }
    for (int c = 1; c < w.n_fields[0]; c++) {
        const char *const *line = (const char *const *)mf.fields[f.n + c];
        double sum = 0.0;
        int cells = 0;
        for (int r = 1; r <= f.n; r++)
            if (w.fields[r][c][0]) sum += atof(w.fields[r][c]), cells++;
        assert_string_equal(line[0], "column");
        assert_string_equal(line[1], w.fields[0][c]);
        assert_close(atof(line[2]), sum / cells, 1e-6);
    }
    print_message("%s %s: %d x %d matrix\n", model, strategy, f.n,
                  w.n_fields[0] - 1);
    csv_free(&w);
    csv_free(&mf);
    remove(path);
    remove(means);
    fixture_free(&f);
}

static void strategies_dump_online_batch_k(void **state) {
    (void)state;
    const char *models[] = {"bpr", "ncf"};
    const char *strategies[] = {"melon", "melon-i", "melon-p"};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++) check_strategy_dump(models[a], strategies[b]);
}

/* `melon run --dump-lr-matrix FILE --dump-batch K` writes W of online
 * batch K: one line per interaction of that batch; a K past the stream
 * writes nothing. */
static void cli_dumps_online_batch_k(void **state) {
    (void)state;
    char data[4096], out[4096], means[4200], none[4096];
    snprintf(data, sizeof data, "%s", test_tmp_path("tiny.csv"));
    snprintf(out, sizeof out, "%s", test_tmp_path("cli-lr.csv"));
    snprintf(means, sizeof means, "%s", test_tmp_path("cli-lr-means.csv"));
    snprintf(none, sizeof none, "%s", test_tmp_path("cli-none.csv"));
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "user,item,time\n");
    for (int p = 0; p < 320; p++) /* 20 users, 150 items, 10 batches of 32 */
        len += (size_t)snprintf(text + len, cap - len, "u%d,i%d,%d\n", p % 20,
                                (p * 37) % 150, p);
    test_write_file(data, text, 0);
    free(text);
    char args[16384], *o = NULL, *e = NULL;
    snprintf(args, sizeof args,
             "run --data '%s' --model bpr --strategy melon --batch-size 32 "
             "--epochs 1 --threads 2 --dump-lr-matrix '%s' --dump-batch 1",
             data, out);
    int status = test_run_melon(args, &o, &e);
    if (status != 0) fail_msg("melon run failed (%d): %s", status, e);
    free(o);
    free(e);
    csv_file w;
    csv_read(&w, out);
    assert_int_equal(w.n_lines, 1 + 32);
    assert_string_equal(w.fields[0][0], "interaction");
    assert_true(w.n_fields[0] > 1);
    csv_free(&w);
    assert_true(test_file_exists(means));
    snprintf(args, sizeof args,
             "run --data '%s' --model bpr --strategy melon-p --batch-size 32 "
             "--epochs 1 --threads 2 --dump-lr-matrix '%s' --dump-batch 50",
             data, none);
    /* a batch beyond the stream is refused before pre-training: an output
     * asked for is written or the run fails */
    status = test_run_melon(args, &o, &e);
    assert_int_equal(status, 1);
    assert_non_null(strstr(e, "--dump-batch 50: the stream has 2 online batches"));
    free(o);
    free(e);
    assert_false(test_file_exists(none));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_layout_names_empty_cells_and_means),
        cmocka_unit_test(means_path_and_failures),
        cmocka_unit_test(strategies_dump_online_batch_k),
        cmocka_unit_test(cli_dumps_online_batch_k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
