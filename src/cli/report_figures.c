/* The figures of `melon report`, drawn by gnuplot (SVG and PNG): Figure 5,
 * NDCG@10 per online batch with one line per strategy; Figure 4, the
 * learning-rate matrix of a MeLON run as a heat map with its row and column
 * means. Each figure keeps its data file and gnuplot script beside it. */
#include "report.h"

#include "core/atomic_file.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FIG4_MAX_ROWS 256
#define FIG4_MAX_COLS 400

void report_slug(const char *name, char *out, size_t cap) {
    if (cap == 0) return;
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap; p++) {
        char c = *p;
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (keep) out[n++] = c;
        else if (n > 0 && out[n - 1] != '-') out[n++] = '-';
    }
    while (n > 0 && out[n - 1] == '-') n--;
    out[n] = 0;
}

static int run_gnuplot(const char *script) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", script);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512];
    int printed = 0;
    while (fgets(line, sizeof line, p)) {
        if (!printed++) fprintf(stderr, "melon report: gnuplot (%s):\n", script);
        fputs(line, stderr);
    }
    int status = pclose(p);
    return status == 0 ? 0 : -1;
}

static int cannot_create(const char *path) {
    fprintf(stderr, "melon report: %s: cannot create: %s\n", path, strerror(errno));
    return -1;
}

/* Closes a file the report wrote; when a write failed, removes it and
 * returns -1 after a message with the system's reason. */
static int close_written(FILE *f, const char *path) {
    int why = melon_file_write_error(f);
    if (fclose(f) != 0 && !why) why = errno;
    if (!why) return 0;
    unlink(path);
    fprintf(stderr, "melon report: %s: write failed: %s\n", path, strerror(why));
    return -1;
}

/* The folder of a path, in buf. */
static const char *base_dir(const char *path, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash) return ".";
    *slash = 0;
    return buf;
}

/* Runs the figure's script. Its SVG and PNG must both be there and not
 * empty (gnuplot leaves an empty file when it cannot write, e.g. on a full
 * disk); otherwise neither is kept. 1 when drawn, else -1. */
static int draw(const char *script, const char *base) {
    static const char *const kinds[2] = {"svg", "png"};
    char path[2][4700];
    int drawn = run_gnuplot(script) == 0;
    for (int k = 0; k < 2; k++) {
        snprintf(path[k], sizeof path[k], "%s.%s", base, kinds[k]);
        struct stat st;
        int missing = stat(path[k], &st) != 0;
        if (drawn && (missing || st.st_size == 0)) {
            /* gnuplot does not say why; a full file system is the usual
             * reason */
            struct statvfs fs;
            char dir[4700];
            int full = statvfs(base_dir(base, dir, sizeof dir), &fs) == 0 &&
                       fs.f_bavail == 0;
            fprintf(stderr, "melon report: %s: gnuplot wrote %s%s%s\n", path[k],
                    missing ? "nothing" : "an empty file", full ? ": " : "",
                    full ? strerror(ENOSPC) : "");
            drawn = 0;
        }
    }
    if (drawn) return 1;
    for (int k = 0; k < 2; k++) unlink(path[k]);
    return -1;
}

/* Both terminals from one script: SVG, then PNG of the same plot. */
static void terminals(FILE *gp, const char *base, int w, int h, const char *plot) {
    fprintf(gp, "set terminal svg size %d,%d dynamic noenhanced font 'sans,11'\n"
                "set output '%s.svg'\n%s\n"
                "set terminal pngcairo size %d,%d noenhanced font 'sans,10'\n"
                "set output '%s.png'\n%s\nunset output\n",
            w, h, base, plot, w, h, base, plot);
}

/* The popularity ranker's runs on the dataset (its "default" label when
 * there are several), drawn as the floor a model must clear; NULL when
 * there are none or model is the ranker itself. */
static const report_group *popularity_floor(const report_data *d, const char *dataset,
                                            const char *model) {
    if (strcmp(model, "pop") == 0) return NULL;
    const report_group *g = report_find(d, dataset, "pop", "default");
    for (size_t k = 0; !g && k < d->n_groups; k++)
        if (strcmp(d->groups[k].dataset, dataset) == 0 &&
            strcmp(d->groups[k].model, "pop") == 0)
            g = &d->groups[k];
    return g && g->n_runs > 0 && g->runs[0]->ndcg10 ? g : NULL;
}

static int figure5(const report_data *d, const char *dataset, const char *model,
                   const char *dir) {
    const report_group *groups[d->n_labels + 2];
    size_t n = 0, batches = 0;
    for (size_t k = 0; k < d->n_labels; k++) {
        const report_group *g = report_find(d, dataset, model, d->labels[k]);
        if (!g || g->n_runs == 0 || !g->runs[0]->ndcg10) continue;
        groups[n++] = g;
        if (g->runs[0]->n_batches > batches) batches = g->runs[0]->n_batches;
    }
    if (n == 0 || batches == 0) return 0;
    const report_group *pop_floor = popularity_floor(d, dataset, model);
    size_t lines = n;
    if (pop_floor) groups[lines++] = pop_floor; /* the last column */
    char slug_d[256], slug_m[64], base[4500], data[4600], script[4600];
    report_slug(dataset, slug_d, sizeof slug_d);
    report_slug(model, slug_m, sizeof slug_m);
    snprintf(base, sizeof base, "%s/fig5-%s-%s", dir, slug_d, slug_m);
    snprintf(data, sizeof data, "%s.dat", base);
    snprintf(script, sizeof script, "%s.gp", base);
    FILE *f = fopen(data, "w");
    if (!f) return cannot_create(data);
    fprintf(f, "batch");
    for (size_t k = 0; k < n; k++) fprintf(f, "\t\"%s\"", groups[k]->label);
    if (pop_floor) fprintf(f, "\t\"popularity (floor)\"");
    fputc('\n', f);
    for (size_t t = 0; t < batches; t++) {
        fprintf(f, "%zu", t + 1);
        for (size_t k = 0; k < lines; k++) {
            double sum = 0.0;
            size_t count = 0;
            for (size_t r = 0; r < groups[k]->n_runs; r++)
                if (t < groups[k]->runs[r]->n_batches) {
                    sum += groups[k]->runs[r]->ndcg10[t];
                    count++;
                }
            if (count) fprintf(f, "\t%.6f", sum / (double)count);
            else fprintf(f, "\tNaN");
        }
        fputc('\n', f);
    }
    if (close_written(f, data) != 0) return -1;
    FILE *gp = fopen(script, "w");
    if (!gp) return cannot_create(script);
    char plot[24576], floor_line[4800] = "";
    if (pop_floor) /* dashed grey, under the strategies' lines */
        snprintf(floor_line, sizeof floor_line,
                 ", '%s' using 1:%zu with lines dt 2 lw 1.5 lc rgb '#555555' "
                 "title columnheader(%zu)", data, lines + 1, lines + 1);
    snprintf(plot, sizeof plot,
             "set title 'NDCG@10 per online batch: %s, %s'\n"
             "set xlabel 'online batch'\nset ylabel 'NDCG@10'\n"
             "set key outside right\nset grid\nset datafile missing 'NaN'\n"
             /* twelve distinct colours (gnuplot's default cycle has eight) */
             "colors = '#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b "
             "#e377c2 #7f7f7f #bcbd22 #17becf #000000 #aec7e8'\n"
             "plot for [i=2:%zu] '%s' using 1:i with lines lw 1.5 "
             "lc rgb word(colors, (i - 2) %% 12 + 1) title columnheader(i)%s",
             dataset, model, n + 1, data, floor_line);
    terminals(gp, base, 900, 450, plot);
    if (close_written(gp, script) != 0) return -1;
    return draw(script, base);
}

/* Reads a learning-rate dump (header of column names, one row per
 * interaction, empty cells where a parameter is not touched) into a dense
 * matrix with NaN for empty cells. */
static float *read_lr_matrix(const char *path, size_t *rows, size_t *cols) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    float *m = NULL;
    size_t n_rows = 0, n_cols = 0, cap_rows = 0;
    ssize_t len;
    int header = 1;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (header) {
            n_cols = 1;
            for (char *p = line; *p; p++) n_cols += *p == ',';
            header = 0;
            continue;
        }
        if (n_rows == cap_rows) {
            cap_rows = cap_rows ? 2 * cap_rows : 64;
            float *bigger = realloc(m, cap_rows * n_cols * sizeof *m);
            if (!bigger) break;
            m = bigger;
        }
        char *p = line;
        for (size_t c = 0; c < n_cols; c++) {
            char *end;
            float x = strtof(p, &end);
            m[n_rows * n_cols + c] = end == p ? NAN : x;
            p = strchr(end, ',');
            if (!p) {
                for (size_t rest = c + 1; rest < n_cols; rest++)
                    m[n_rows * n_cols + rest] = NAN;
                break;
            }
            p++;
        }
        n_rows++;
    }
    free(line);
    fclose(f);
    *rows = n_rows;
    *cols = n_cols;
    return m;
}

static int figure4(const report_run *run, const char *dir) {
    char lr[4096];
    snprintf(lr, sizeof lr, "%.*s-lr.csv", (int)(strlen(run->path) - 5), run->path);
    struct stat st;
    if (stat(lr, &st) != 0) return 0;
    size_t rows, cols;
    float *m = read_lr_matrix(lr, &rows, &cols);
    if (!m || rows == 0 || cols == 0) {
        free(m);
        fprintf(stderr, "melon report: %s: empty or unreadable learning-rate matrix\n", lr);
        return -1;
    }
    char slug[512], base[4700], heat[4800], rmeans[4800], cmeans[4800], script[4800];
    char name[512];
    snprintf(name, sizeof name, "%s-%s-%s", run->dataset, run->model, run->label);
    report_slug(name, slug, sizeof slug);
    snprintf(base, sizeof base, "%s/fig4-%s", dir, slug);
    snprintf(heat, sizeof heat, "%s.matrix", base);
    snprintf(rmeans, sizeof rmeans, "%s.rows", base);
    snprintf(cmeans, sizeof cmeans, "%s.cols", base);
    snprintf(script, sizeof script, "%s.gp", base);
    /* evenly spaced rows and columns when the matrix is larger than a
     * readable picture; the means use every entry */
    size_t show_r = rows < FIG4_MAX_ROWS ? rows : FIG4_MAX_ROWS;
    size_t show_c = cols < FIG4_MAX_COLS ? cols : FIG4_MAX_COLS;
    FILE *fh = fopen(heat, "w"), *fr = fopen(rmeans, "w"), *fc = fopen(cmeans, "w");
    if (!fh || !fr || !fc) {
        int why = errno;
        if (fh) fclose(fh);
        if (fr) fclose(fr);
        if (fc) fclose(fc);
        free(m);
        fprintf(stderr, "melon report: %s: cannot create: %s\n", base, strerror(why));
        return -1;
    }
    for (size_t i = 0; i < show_r; i++) {
        size_t r = i * rows / show_r;
        for (size_t j = 0; j < show_c; j++) {
            float x = m[r * cols + j * cols / show_c];
            if (j) fputc(' ', fh);
            if (isnan(x)) fputs("NaN", fh);
            else fprintf(fh, "%g", x);
        }
        fputc('\n', fh);
        double sum = 0.0;
        size_t count = 0;
        for (size_t c = 0; c < cols; c++)
            if (!isnan(m[r * cols + c])) sum += m[r * cols + c], count++;
        if (count) fprintf(fr, "%zu %g\n", i, sum / (double)count);
        else fprintf(fr, "%zu NaN\n", i);
    }
    for (size_t j = 0; j < show_c; j++) {
        size_t c = j * cols / show_c;
        double sum = 0.0;
        size_t count = 0;
        for (size_t r = 0; r < rows; r++)
            if (!isnan(m[r * cols + c])) sum += m[r * cols + c], count++;
        if (count) fprintf(fc, "%zu %g\n", j, sum / (double)count);
        else fprintf(fc, "%zu NaN\n", j);
    }
    free(m);
    int closed = close_written(fh, heat);
    closed |= close_written(fr, rmeans);
    closed |= close_written(fc, cmeans);
    if (closed != 0) return -1;
    FILE *gp = fopen(script, "w");
    if (!gp) return cannot_create(script);
    char plot[24576];
    snprintf(plot, sizeof plot,
             "set multiplot title 'Learning rates of %s, %s, %s: %zu interactions x "
             "%zu parameters%s'\n"
             "set datafile missing 'NaN'\nunset key\n"
             "set lmargin at screen 0.08\nset rmargin at screen 0.78\n"
             "set tmargin at screen 0.80\nset bmargin at screen 0.10\n"
             "set palette rgbformulae 33,13,10\nset colorbox user origin 0.93,0.10 size 0.02,0.70\n"
             "set xlabel 'parameter'\nset ylabel 'interaction'\nset yrange [] reverse\n"
             "plot '%s' matrix with image\n"
             "unset colorbox\nset yrange [] noreverse\nunset xlabel\nunset ylabel\n"
             "set tmargin at screen 0.92\nset bmargin at screen 0.82\n"
             "set format x ''\nset ytics 2\nset ylabel 'mean' offset 1\n"
             "plot '%s' using 1:2 with lines lc rgb '#444444'\n"
             "set lmargin at screen 0.80\nset rmargin at screen 0.90\n"
             "set tmargin at screen 0.80\nset bmargin at screen 0.10\n"
             "set format x '%%g'\nset format y ''\nset xtics 2\nset ylabel ''\nset xlabel 'mean'\n"
             "set yrange [] reverse\n"
             "plot '%s' using 2:1 with lines lc rgb '#444444'\n"
             "unset multiplot",
             run->dataset, run->model, run->label, rows, cols,
             rows > show_r || cols > show_c ? " (evenly spaced sample shown)" : "",
             heat, cmeans, rmeans);
    terminals(gp, base, 900, 700, plot);
    if (close_written(gp, script) != 0) return -1;
    return draw(script, base);
}

int report_write_figures(const report_data *d, const char *results_dir,
                         const char *out_dir) {
    (void)results_dir;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/figures", out_dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "melon report: %s: cannot create: %s\n", dir, strerror(errno));
        return -1;
    }
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "melon report: gnuplot not found (Debian package "
                        "gnuplot-nox); no figures drawn\n");
        return -1;
    }
    int written = 0;
    for (size_t i = 0; i < d->n_datasets; i++)
        for (size_t j = 0; j < d->n_models; j++) {
            int rc = figure5(d, d->datasets[i], d->models[j], dir);
            if (rc < 0) return -1;
            written += rc;
        }
    for (size_t k = 0; k < d->n_runs; k++) {
        int rc = figure4(&d->runs[k], dir);
        if (rc < 0) return -1;
        written += rc;
    }
    return written;
}
