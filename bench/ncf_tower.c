/* The scales inside NCF's MLP tower while Default pre-trains it
 * (docs/ncf-tower.md). Replays the runner's pre-training exactly (same
 * batch order, negatives and Adam) and prints, at steps 0, 1, 2, 5, 10, ...
 * and at the last step of every epoch (the batch's loss and figures, before
 * the step), for each tower layer l:
 *   |W_l|      root mean square and largest magnitude of its weights,
 *   |h_l|      root mean square of its ReLU output over the batch's pairs,
 *   on         the share of h_l's entries that are positive,
 *   grad/L2    rms of the batch gradient of W_l over rms of the L2 term
 *              l2 * W_l that Adam adds to it,
 * and the parts of the score w_o . [m; h_L] + b^U_u + b^I_i: the root mean
 * square over the batch's pairs of the GMF part w_o[:d] . m, of the tower
 * part w_o[d:] . h_L and of the biases, and how many tower activations are
 * subnormal floats.
 *
 * usage: ncf_tower [--data FILE] [--seed N] [--epochs E] [--lr LR]
 *                  [--l2 L2] [--init-std S] [--tower-init normal|he]
 *                  [--dense-adam] [--no-gmf] [--threads T]
 * --no-gmf zeroes the GMF tables: their gradients are then zero, so the
 * model is the MLP alone (He et al. 2017's MLP, trained on its own). */
#include "bench_stream.h"

#include "model/grad.h"
#include "melon/model.h"
#include "melon/negatives.h"
#include "model/optim.h"

#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <string.h>

typedef struct {
    int n_layers;
    int w[MELON_MAX_LAYERS + 1];  /* tensor index of W_l (1-based l) */
    int out;                      /* tensor index of out_w */
    int gmf[2];                   /* user_gmf, item_gmf */
    int bias[2];                  /* user_bias, item_bias */
} tower_index;

static int find_tensor(const melon_model *m, const char *name) {
    for (int k = 0; k < m->n_tensors; k++)
        if (strcmp(m->tensor[k].name, name) == 0) return k;
    return -1;
}

static void index_tower(const melon_model *m, tower_index *t) {
    static const char *const names[] = {"mlp_w1", "mlp_w2", "mlp_w3", "mlp_w4",
                                        "mlp_w5", "mlp_w6", "mlp_w7", "mlp_w8"};
    t->n_layers = m->cfg.layers.n;
    for (int l = 1; l <= t->n_layers; l++) t->w[l] = find_tensor(m, names[l - 1]);
    t->out = find_tensor(m, "out_w");
    t->gmf[0] = find_tensor(m, "user_gmf");
    t->gmf[1] = find_tensor(m, "item_gmf");
    t->bias[0] = find_tensor(m, "user_bias");
    t->bias[1] = find_tensor(m, "item_bias");
}

static double rms(const float *x, size_t n, float *max_abs) {
    double s = 0.0;
    float top = 0.0f;
    for (size_t k = 0; k < n; k++) {
        s += (double)x[k] * x[k];
        if (fabsf(x[k]) > top) top = fabsf(x[k]);
    }
    if (max_abs) *max_abs = top;
    return n ? sqrt(s / (double)n) : 0.0;
}

/* rms and share of positive entries of column block [col, col + width) of
 * a [rows][ld] matrix; counts subnormal entries into *subnormal. */
static double block_rms(const float *x, size_t rows, int ld, int col,
                        int width, double *on, size_t *subnormal) {
    double s = 0.0;
    size_t pos = 0;
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < width; k++) {
            float v = x[r * (size_t)ld + (size_t)col + (size_t)k];
            s += (double)v * v;
            pos += v > 0.0f;
            *subnormal += fpclassify(v) == FP_SUBNORMAL;
        }
    size_t n = rows * (size_t)width;
    *on = (double)pos / (double)n;
    return sqrt(s / (double)n);
}

static void print_header(int n_layers) {
    printf("%6s %5s %7s", "step", "epoch", "loss");
    for (int l = 1; l <= n_layers; l++)
        printf(" |   W%d rms     max    |h%d|   on  grad/L2", l, l);
    printf(" | gmf part tower part bias part subnormal\n");
}

/* One line of figures for the batch whose forward_backward is in g and
 * whose mean gradient is in sg. */
static void print_line(long step, int epoch, double loss,
                       const melon_model *m, const tower_index *t,
                       const melon_triple *triples, const melon_grads *g,
                       const melon_sparse_grad *sg, float l2) {
    int d = m->cfg.dim, L = t->n_layers;
    size_t pairs = 2 * (size_t)g->n;
    printf("%6ld %5d %7.4f", step, epoch, loss);
    size_t subnormal = 0;
    for (int l = 1; l <= L; l++) {
        const melon_tensor *w = &m->tensor[t->w[l]];
        size_t size = (size_t)w->rows * (size_t)w->cols;
        float top;
        double w_rms = rms(w->value, size, &top);
        double on, h_rms;
        if (l < L)
            h_rms = block_rms(g->input[t->w[l + 1]], pairs, w->rows, 0, w->rows,
                              &on, &subnormal);
        else
            h_rms = block_rms(g->input[t->out], pairs, d + w->rows, d, w->rows,
                              &on, &subnormal);
        double g_rms = rms(sg->grad[t->w[l]], size, NULL);
        double decay = (double)l2 * w_rms;
        printf(" | %8.2e %8.2e %8.2e %4.2f %8.2e", w_rms, (double)top, h_rms,
               on, decay > 0.0 ? g_rms / decay : INFINITY);
    }
    /* the two parts of w_o . [m; h_L], pair by pair */
    const float *w_out = m->tensor[t->out].value;
    const float *x = g->input[t->out];
    int ld = d + m->tensor[t->w[L]].rows;
    const float *user_bias = m->tensor[t->bias[0]].value;
    const float *item_bias = m->tensor[t->bias[1]].value;
    double gmf = 0.0, tower = 0.0, bias = 0.0;
    for (size_t p = 0; p < pairs; p++) {
        const float *row = x + p * (size_t)ld;
        double a = cblas_sdot(d, w_out, 1, row, 1);
        double b = cblas_sdot(ld - d, w_out + d, 1, row + d, 1);
        const melon_triple *tr = &triples[p / 2];
        double c = (double)user_bias[tr->user] +
                   item_bias[p % 2 ? tr->negative : tr->item];
        gmf += a * a;
        tower += b * b;
        bias += c * c;
    }
    printf(" | %8.2e %10.2e %9.2e %9zu\n", sqrt(gmf / (double)pairs),
           sqrt(tower / (double)pairs), sqrt(bias / (double)pairs), subnormal);
}

static int is_checkpoint(long step) {
    static const long marks[] = {0, 1, 2, 5, 10, 20, 50, 100, 200};
    for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++)
        if (step == marks[k]) return 1;
    return 0;
}

int main(int argc, char **argv) {
    const char *data = NULL;
    uint64_t seed = 1;
    int epochs = 5, threads = 0, dense = 0, no_gmf = 0;
    melon_config cfg;
    melon_model_config mcfg;
    melon_model_config_default(&mcfg);
    melon_optimizer_config ocfg;
    melon_optimizer_config_default(&ocfg);
    static const struct option longs[] = {
        {"data", required_argument, 0, 'd'},
        {"seed", required_argument, 0, 's'},
        {"epochs", required_argument, 0, 'e'},
        {"lr", required_argument, 0, 'r'},
        {"l2", required_argument, 0, 'l'},
        {"init-std", required_argument, 0, 'i'},
        {"tower-init", required_argument, 0, 't'},
        {"dense-adam", no_argument, 0, 'D'},
        {"no-gmf", no_argument, 0, 'G'},
        {"threads", required_argument, 0, 'T'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'e': epochs = atoi(optarg); break;
        case 'r': ocfg.lr = strtof(optarg, NULL); break;
        case 'l': ocfg.l2 = strtof(optarg, NULL); break;
        case 'i': mcfg.init_std = strtof(optarg, NULL); break;
        case 't':
            if (strcmp(optarg, "he") != 0 && strcmp(optarg, "normal") != 0) {
                fprintf(stderr, "ncf_tower: --tower-init %s: expected normal "
                                "or he\n", optarg);
                return 2;
            }
            mcfg.tower_init = strcmp(optarg, "he") == 0 ? MELON_TOWER_HE
                                                        : MELON_TOWER_NORMAL;
            break;
        case 'D': dense = 1; break;
        case 'G': no_gmf = 1; break;
        case 'T': threads = atoi(optarg); break;
        default: return 2;
        }
    }
    if (epochs < 1) {
        fprintf(stderr, "ncf_tower: --epochs must be >= 1\n");
        return 2;
    }
    ocfg.dense = dense;
    melon_stream stream;
    if (bench_open_stream(&cfg, bench_data_path(data), epochs, threads,
                          &stream, "ncf_tower") != 0)
        return 1;
    omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
    mcfg.seed = seed;

    melon_err err = {{0}};
    melon_split split;
    melon_pair_index pairs;
    melon_model m;
    melon_grads g;
    melon_sparse_grad sg;
    melon_optimizer opt;
    int bs = cfg.run.batch_size;
    if (melon_split_make(&split, stream.n, bs, cfg.run.train_ratio, &err) != 0 ||
        melon_pair_index_build(&pairs, &stream, &err) != 0 ||
        melon_model_create(&m, "ncf", stream.n_users, stream.n_items, &mcfg,
                           2 * bs, &err) != 0 ||
        melon_grads_init(&g, &m, 2 * bs, &err) != 0 ||
        melon_sparse_grad_init(&sg, &m, 2 * bs, &err) != 0 ||
        melon_optimizer_init(&opt, &m, &ocfg, &err) != 0) {
        fprintf(stderr, "ncf_tower: %s\n", err.msg);
        return 1;
    }
    tower_index t;
    index_tower(&m, &t);
    if (no_gmf)
        for (int k = 0; k < 2; k++) {
            melon_tensor *x = &m.tensor[t.gmf[k]];
            memset(x->value, 0, (size_t)x->rows * (size_t)x->cols * sizeof(float));
        }
    printf("ncf_tower: %s, seed %llu, %d epochs, lr %g, l2 %g, init-std %g, "
           "tower %s, %s Adam%s\n", bench_data_path(data),
           (unsigned long long)seed, epochs, (double)ocfg.lr, (double)ocfg.l2,
           (double)mcfg.init_std,
           mcfg.tower_init == MELON_TOWER_HE ? "he" : "normal",
           dense ? "dense" : "lazy", no_gmf ? ", GMF tables zero" : "");
    print_header(t.n_layers);

    /* the runner's random streams: negatives (1) and batch order (2) */
    melon_rng train_rng, order_rng;
    melon_rng_seed_stream(&train_rng, seed, 1);
    melon_rng_seed_stream(&order_rng, seed, 2);
    size_t n_past = split.n_past;
    int32_t *order = malloc(n_past * sizeof *order);
    melon_triple *triples = malloc((size_t)bs * sizeof *triples);
    if (!order || !triples) return 1;
    for (size_t b = 0; b < n_past; b++) order[b] = (int32_t)b;
    long step = 0;
    for (int epoch = 1; epoch <= epochs; epoch++) {
        melon_rng_shuffle_i32(&order_rng, order, n_past);
        double loss_sum = 0.0;
        for (size_t k = 0; k < n_past; k++, step++) {
            size_t begin = melon_batch_begin(&split, (size_t)order[k]);
            size_t end = melon_batch_end(&split, stream.n, (size_t)order[k]);
            int n = (int)(end - begin);
            for (size_t p = begin; p < end; p++)
                triples[p - begin] = (melon_triple){
                    stream.user[p], stream.item[p],
                    melon_sample_train_negative(&pairs, &train_rng,
                                                stream.user[p], end)};
            m.ops->forward_backward(&m, triples, n, &g);
            melon_sparse_grad_accumulate(&sg, &m, triples, &g, NULL);
            double loss = 0.0;
            for (int r = 0; r < n; r++) loss += g.loss[r];
            loss /= n;
            loss_sum += loss;
            if (is_checkpoint(step) || k + 1 == n_past)
                print_line(step, epoch, loss, &m, &t, triples, &g, &sg,
                           ocfg.l2);
            melon_optimizer_step(&opt, &m, &sg, 1.0f);
        }
        printf("epoch %d: mean loss %.4f\n", epoch, loss_sum / (double)n_past);
    }
    free(order);
    free(triples);
    melon_optimizer_free(&opt);
    melon_sparse_grad_free(&sg);
    melon_grads_free(&g);
    melon_model_free(&m);
    melon_pair_index_free(&pairs);
    melon_stream_free(&stream);
    return 0;
}
