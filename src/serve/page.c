/* page.h */
#include "page.h"

const char serve_page_html[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>melon serve</title>"
    "</head><body><h1>melon serve</h1><p>See <a href=\"/metrics\">/metrics</a>.</p>"
    "</body></html>\n";
