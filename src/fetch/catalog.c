/* The table of public datasets `melon data fetch` knows by name. Adding a
 * dataset is adding a row: where the publisher serves it, which file is the
 * interaction log, its size and SHA-256 (or none, when no checksum is known
 * for certain), the publisher's MD5 of the download when there is one, its
 * layout and its terms. */
#include "fetch.h"

#include <stdio.h>
#include <string.h>

#define GROUPLENS_TERMS                                                     \
    "may be used for research under GroupLens's conditions: no commercial " \
    "use without permission, do not redistribute it, do not imply "         \
    "endorsement by the University of Minnesota or GroupLens, and cite F. " \
    "Maxwell Harper and Joseph A. Konstan, \"The MovieLens Datasets: "      \
    "History and Context\", ACM TiiS 5(4), 2015."

#define AMAZON_2014_URL \
    "https://snap.stanford.edu/data/amazon/productGraph/categoryFiles/"

/* One category of the 2014 Amazon review release (McAuley et al.), 5-core:
 * every reviewer and product has at least 5 reviews. */
#define AMAZON_2014_5CORE(slug, category, label)                             \
    {                                                                        \
        .name = "amazon14-" slug "-5core",                                   \
        .title = "Amazon reviews 2014, " label ", 5-core (McAuley et al.)",  \
        .url = AMAZON_2014_URL "reviews_" category "_5.json.gz",             \
        .file_name = "reviews_" category "_5.json",                          \
        .format = "JSON lines: reviewerID, asin, unixReviewTime (format "    \
                  "amazon)",                                                 \
        .licence = "Amazon review data (UCSD): research use; cite McAuley "  \
                   "et al. 2015 and He & McAuley 2016",                      \
        .terms = "The Amazon review data is distributed by Julian McAuley "  \
                 "(UCSD) for research. The publisher asks that you cite R. " \
                 "He and J. McAuley, \"Ups and downs\", WWW 2016, and J. "   \
                 "McAuley, C. Targett, Q. Shi and A. van den Hengel, "       \
                 "\"Image-based recommendations on styles and "              \
                 "substitutes\", SIGIR 2015.",                               \
    }

static const melon_dataset catalog[] = {
    {
        .name = "ml-100k",
        .title = "MovieLens 100K: 100,000 ratings (1-5) by 943 users of "
                 "1,682 movies, 1997-1998",
        .url = "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        .member = "ml-100k/u.data",
        .file_name = "u.data",
        .sha256 = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        .size = 1979173,
        .format = "TSV user,item,rating,time, no header; not sorted by time",
        .columns = "1,2,4",
        .licence = "GroupLens: research use only, no redistribution, "
                   "cite Harper & Konstan 2015",
        .terms = "MovieLens 100K is provided by GroupLens Research for "
                 "research use only: no commercial use without permission, "
                 "do not redistribute it, do not imply endorsement by the "
                 "University of Minnesota or GroupLens, and cite F. Maxwell "
                 "Harper and Joseph A. Konstan, \"The MovieLens Datasets: "
                 "History and Context\", ACM TiiS 5(4), 2015.",
    },
    {
        .name = "ml-1m",
        .title = "MovieLens 1M: 1,000,209 ratings (1-5) by 6,040 users of "
                 "about 3,900 movies, 2000-2003",
        .url = "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        /* GroupLens's ml-1m.zip.md5 beside the archive */
        .archive_md5 = "c4d9eecfca2ab87c1945afe126590906",
        .member = "ml-1m/ratings.dat",
        .file_name = "ratings.dat",
        .format = "user::item::rating::time, no header; sorted by user",
        .columns = "1,2,4",
        .licence = "GroupLens: research use only, no redistribution, "
                   "cite Harper & Konstan 2015",
        .terms = "MovieLens 1M " GROUPLENS_TERMS,
    },
    {
        .name = "ml-latest-small",
        .title = "MovieLens latest, small: about 100,000 ratings (0.5-5) by "
                 "about 600 users; GroupLens regenerates it from time to "
                 "time",
        .url = "https://files.grouplens.org/datasets/movielens/"
               "ml-latest-small.zip",
        .member = "ml-latest-small/ratings.csv",
        .file_name = "ratings.csv",
        .format = "CSV with header userId,movieId,rating,timestamp",
        .columns = "userId,movieId,timestamp",
        .licence = "GroupLens: research use only, no redistribution, "
                   "cite Harper & Konstan 2015",
        .terms = "MovieLens latest (small) " GROUPLENS_TERMS
                 " GroupLens changes this dataset over time, so results on "
                 "it are not comparable across versions.",
    },
    AMAZON_2014_5CORE("books", "Books", "Books"),
    AMAZON_2014_5CORE("electronics", "Electronics", "Electronics"),
    AMAZON_2014_5CORE("movies-tv", "Movies_and_TV", "Movies and TV"),
    AMAZON_2014_5CORE("cds-vinyl", "CDs_and_Vinyl", "CDs and Vinyl"),
    AMAZON_2014_5CORE("clothing", "Clothing_Shoes_and_Jewelry",
                      "Clothing, Shoes and Jewelry"),
    AMAZON_2014_5CORE("home-kitchen", "Home_and_Kitchen", "Home and Kitchen"),
    AMAZON_2014_5CORE("kindle", "Kindle_Store", "Kindle Store"),
    AMAZON_2014_5CORE("sports", "Sports_and_Outdoors", "Sports and Outdoors"),
    AMAZON_2014_5CORE("cell-phones", "Cell_Phones_and_Accessories",
                      "Cell Phones and Accessories"),
    AMAZON_2014_5CORE("health", "Health_and_Personal_Care",
                      "Health and Personal Care"),
    AMAZON_2014_5CORE("toys", "Toys_and_Games", "Toys and Games"),
    AMAZON_2014_5CORE("video-games", "Video_Games", "Video Games"),
    AMAZON_2014_5CORE("tools", "Tools_and_Home_Improvement",
                      "Tools and Home Improvement"),
    AMAZON_2014_5CORE("beauty", "Beauty", "Beauty"),
    AMAZON_2014_5CORE("apps-android", "Apps_for_Android", "Apps for Android"),
    AMAZON_2014_5CORE("office", "Office_Products", "Office Products"),
    AMAZON_2014_5CORE("pet-supplies", "Pet_Supplies", "Pet Supplies"),
    AMAZON_2014_5CORE("automotive", "Automotive", "Automotive"),
    AMAZON_2014_5CORE("grocery", "Grocery_and_Gourmet_Food",
                      "Grocery and Gourmet Food"),
    AMAZON_2014_5CORE("patio", "Patio_Lawn_and_Garden",
                      "Patio, Lawn and Garden"),
    AMAZON_2014_5CORE("baby", "Baby", "Baby"),
    AMAZON_2014_5CORE("digital-music", "Digital_Music", "Digital Music"),
    AMAZON_2014_5CORE("musical-instruments", "Musical_Instruments",
                      "Musical Instruments"),
    AMAZON_2014_5CORE("instant-video", "Amazon_Instant_Video",
                      "Amazon Instant Video"),
};

size_t melon_catalog_count(void) {
    return sizeof catalog / sizeof catalog[0];
}

const melon_dataset *melon_catalog_entry(size_t index) {
    return index < melon_catalog_count() ? &catalog[index] : NULL;
}

const melon_dataset *melon_catalog_find(const char *name) {
    if (!name) return NULL;
    for (size_t k = 0; k < melon_catalog_count(); k++)
        if (strcmp(catalog[k].name, name) == 0) return &catalog[k];
    return NULL;
}

void melon_catalog_names(char *out, size_t cap) {
    if (cap == 0) return;
    out[0] = '\0';
    size_t used = 0;
    for (size_t k = 0; k < melon_catalog_count() && used < cap; k++) {
        int n = snprintf(out + used, cap - used, "%s%s", k ? ", " : "",
                         catalog[k].name);
        if (n < 0) break;
        used += (size_t)n;
    }
}

const char *melon_dataset_format_hint(const char *name) {
    const melon_dataset *ds = melon_catalog_find(name);
    return ds ? ds->format : NULL;
}
