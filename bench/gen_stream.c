/* Writes a synthetic interaction stream shaped like the paper's Amazon
 * (Table 1: 91,013 users, 118,031 items, 3,625,349 interactions, about 40
 * per user) as a CSV `user,item,timestamp`, deterministic from --seed.
 *
 * The shape:
 * - interactions per user: 21 (the --min-user 21 filter of Table 1) plus a
 *   Lomax (Pareto II) excess with tail index 2.2, scaled so the mean is the
 *   target's; the total is then made exact one user at a time;
 * - item popularity: Zipf with exponent --zipf (1.0) over a seeded
 *   permutation of the items; every item appears at least once, and a user
 *   never repeats an item (a review per product);
 * - time: 1999-01-01 to 2018-10-01; a user joins at a time skewed towards
 *   the later years (the catalogue grows) and is active for a random share
 *   of the remaining span, with interactions uniform in that window.
 *
 * gen_stream --out FILE [--seed N] [--users U] [--items I] [--events E]
 *            [--zipf S] */
#include "melon/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_PER_USER 21
#define TAIL_INDEX 2.2
#define TIME_BEGIN 915148800LL  /* 1999-01-01 */
#define TIME_END 1538352000LL   /* 2018-10-01 */

typedef struct {
    const char *out;
    uint64_t seed;
    long users, items, events;
    double zipf;
} gen_args;

static int parse_args(gen_args *a, int argc, char **argv) {
    *a = (gen_args){NULL, 1, 91013, 118031, 3625349, 1.0};
    for (int k = 1; k < argc; k++) {
        const char *v = k + 1 < argc ? argv[k + 1] : NULL;
        char *end = NULL;
        if (!v) goto bad;
        if (strcmp(argv[k], "--out") == 0) a->out = v;
        else if (strcmp(argv[k], "--seed") == 0) a->seed = strtoull(v, &end, 10);
        else if (strcmp(argv[k], "--users") == 0) a->users = strtol(v, &end, 10);
        else if (strcmp(argv[k], "--items") == 0) a->items = strtol(v, &end, 10);
        else if (strcmp(argv[k], "--events") == 0) a->events = strtol(v, &end, 10);
        else if (strcmp(argv[k], "--zipf") == 0) a->zipf = strtod(v, &end);
        else goto bad;
        if (end && *end) goto bad;
        k++;
    }
    if (!a->out || a->users < 1 || a->items < 2 * MIN_PER_USER + 100 ||
        a->items > 1L << 30 || a->events < a->users * MIN_PER_USER ||
        a->events > 1L << 31 || a->events < a->items || !(a->zipf >= 0))
        goto bad;
    return 0;
bad:
    fprintf(stderr,
            "usage: gen_stream --out FILE [--seed N] [--users U] [--items I] "
            "[--events E] [--zipf S]\n(events >= 21 x users and >= items; "
            "items >= 142)\n");
    return -1;
}

/* Interactions per user: 21 + Lomax excess of mean (E/U - 21), capped so a
 * user always leaves 99 evaluation negatives, then made to sum to E. */
static void user_counts(const gen_args *a, melon_rng *rng, int32_t *count) {
    double excess = (double)a->events / (double)a->users - MIN_PER_USER;
    double scale = excess * (TAIL_INDEX - 1.0);
    long cap = a->items / 2;
    long total = 0;
    for (long u = 0; u < a->users; u++) {
        double x = scale * (pow(1.0 - melon_rng_uniform(rng), -1.0 / TAIL_INDEX) - 1.0);
        long c = MIN_PER_USER + (long)x;
        if (c > cap) c = cap;
        count[u] = (int32_t)c;
        total += c;
    }
    /* one step at a time over the users in turn, so no single user absorbs
     * the difference */
    for (long u = 0; total != a->events; u = (u + 1) % a->users) {
        if (total < a->events && count[u] < cap) {
            count[u]++;
            total++;
        } else if (total > a->events && count[u] > MIN_PER_USER) {
            count[u]--;
            total--;
        }
    }
}

/* Zipf's cumulative weights over popularity ranks. */
static void zipf_cdf(double *cdf, long n, double s) {
    double sum = 0.0;
    for (long r = 0; r < n; r++) {
        sum += pow((double)(r + 1), -s);
        cdf[r] = sum;
    }
    for (long r = 0; r < n; r++) cdf[r] /= sum;
}

static long zipf_draw(const double *cdf, long n, melon_rng *rng) {
    double x = melon_rng_uniform(rng);
    long lo = 0, hi = n - 1;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if (cdf[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

typedef struct {
    int32_t *user, *item;
    int64_t *time;
} events;

/* Items by Zipf popularity, distinct within a user (mark[item] == user + 1
 * while the user's items are drawn). */
static void draw_items(const gen_args *a, melon_rng *rng, const int32_t *count,
                       const double *cdf, const int32_t *item_of_rank,
                       int32_t *mark, events *ev) {
    long p = 0;
    for (long u = 0; u < a->users; u++) {
        for (int32_t c = 0; c < count[u]; c++, p++) {
            int32_t item;
            do {
                item = item_of_rank[zipf_draw(cdf, a->items, rng)];
            } while (mark[item] == (int32_t)(u + 1));
            mark[item] = (int32_t)(u + 1);
            ev->user[p] = (int32_t)u;
            ev->item[p] = item;
        }
    }
}

/* Gives every item that was never drawn one interaction, taken from an
 * item drawn more than once, for a user who does not have it yet. */
static void cover_every_item(const gen_args *a, melon_rng *rng, events *ev,
                             int32_t *uses) {
    memset(uses, 0, (size_t)a->items * sizeof *uses);
    for (long p = 0; p < a->events; p++) uses[ev->item[p]]++;
    for (long item = 0; item < a->items; item++) {
        if (uses[item] > 0) continue;
        for (;;) {
            long p = (long)(melon_rng_u64(rng) % (uint64_t)a->events);
            if (uses[ev->item[p]] < 2) continue;
            int32_t u = ev->user[p];
            long q = p; /* the user's block: does the user have it? */
            while (q > 0 && ev->user[q - 1] == u) q--;
            int taken = 0;
            for (; q < a->events && ev->user[q] == u; q++)
                taken |= ev->item[q] == (int32_t)item;
            if (taken) continue;
            uses[ev->item[p]]--;
            ev->item[p] = (int32_t)item;
            uses[item] = 1;
            break;
        }
    }
}

/* A user joins at a time skewed towards the later years and stays for a
 * random share of what is left; interactions are uniform in that window. */
static void draw_times(const gen_args *a, melon_rng *rng, const int32_t *count,
                       events *ev) {
    double span = (double)(TIME_END - TIME_BEGIN);
    long p = 0;
    for (long u = 0; u < a->users; u++) {
        double join = sqrt(melon_rng_uniform(rng));
        double stay = (1.0 - join) * sqrt(melon_rng_uniform(rng));
        for (int32_t c = 0; c < count[u]; c++, p++) {
            double at = join + stay * melon_rng_uniform(rng);
            ev->time[p] = TIME_BEGIN + (int64_t)(at * span);
        }
    }
}

static int write_csv(const gen_args *a, const events *ev) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", a->out);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "gen_stream: cannot create %s\n", tmp);
        return -1;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    fputs("user,item,timestamp\n", f);
    for (long p = 0; p < a->events; p++)
        fprintf(f, "u%d,i%d,%lld\n", ev->user[p], ev->item[p],
                (long long)ev->time[p]);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 ||
        rename(tmp, a->out) != 0) {
        fprintf(stderr, "gen_stream: cannot write %s\n", a->out);
        remove(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    gen_args a;
    if (parse_args(&a, argc, argv) != 0) return 2;
    melon_rng rng;
    melon_rng_seed(&rng, a.seed);
    int32_t *count = malloc((size_t)a.users * sizeof *count);
    double *cdf = malloc((size_t)a.items * sizeof *cdf);
    int32_t *item_of_rank = malloc((size_t)a.items * sizeof *item_of_rank);
    int32_t *scratch = calloc((size_t)a.items, sizeof *scratch);
    events ev = {malloc((size_t)a.events * sizeof(int32_t)),
                 malloc((size_t)a.events * sizeof(int32_t)),
                 malloc((size_t)a.events * sizeof(int64_t))};
    int rc = 1;
    if (!count || !cdf || !item_of_rank || !scratch || !ev.user || !ev.item ||
        !ev.time) {
        fprintf(stderr, "gen_stream: out of memory\n");
        goto done;
    }
    user_counts(&a, &rng, count);
    zipf_cdf(cdf, a.items, a.zipf);
    for (long r = 0; r < a.items; r++) item_of_rank[r] = (int32_t)r;
    melon_rng_shuffle_i32(&rng, item_of_rank, (size_t)a.items);
    draw_items(&a, &rng, count, cdf, item_of_rank, scratch, &ev);
    cover_every_item(&a, &rng, &ev, scratch);
    draw_times(&a, &rng, count, &ev);
    if (write_csv(&a, &ev) == 0) rc = 0;
done:
    free(count);
    free(cdf);
    free(item_of_rank);
    free(scratch);
    free(ev.user);
    free(ev.item);
    free(ev.time);
    return rc;
}
