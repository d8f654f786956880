/* The live page served at GET / (page.c): HTML and JavaScript, no
 * external resources. */
#ifndef MELON_SERVE_PAGE_H
#define MELON_SERVE_PAGE_H

extern const char serve_page_html[];

#endif
