/* SPDX-License-Identifier: MIT */
/* `clmse bench --plot`: median time against N, both on log scales, one panel per op, as PNG. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "png.h"

#define PLOT_W 1260
#define PLOT_H 560
#define PANEL_STEP 413  /* horizontal distance between panels */
#define PANEL_LEFT 92   /* plot area's left edge within a panel: room for the time labels */
#define PANEL_RIGHT 420 /* and its right edge */
#define AREA_TOP 90
#define AREA_BOTTOM 450
#define TEXT 2          /* font scale: 10 x 14 pixel glyphs */
#define TICK 6
#define MINOR_TICK 3
#define MARKER 3        /* half the side of a point's square */
#define MIN_US 1e-3     /* a median of 0 (coarse clock) still needs a place on a log axis */

#define WHITE 0xFFFFFFu
#define BLACK 0x000000u
#define GRID 0xE0E0E0u

static const uint32_t method_colour[BENCH_METHODS] = {0x1F77B4u, 0xFF7F0Eu, 0x2CA02Cu,
                                                      0x7F7F7Fu};
static const char *const method_label[BENCH_METHODS] = {"clmse", "host OpenMP loop", "CLBlast",
                                                        "empty kernel"};
static const char *const op_label[BENCH_OPS] = {"forward", "backward", "fused"};

typedef struct axes {
    int left, right, top, bottom; /* the plot area, in pixels */
    double xlo, xhi;              /* log2(N) at the left and right edges */
    double ylo, yhi;              /* log10(microseconds) at the bottom and top edges */
} axes;

static int px(const axes *a, double log2n)
{
    return a->left + (int)lround((log2n - a->xlo) / (a->xhi - a->xlo) * (a->right - a->left));
}

static int py(const axes *a, double log10us)
{
    return a->bottom -
           (int)lround((log10us - a->ylo) / (a->yhi - a->ylo) * (a->bottom - a->top));
}

static double time_log(double us)
{
    return log10(us > MIN_US ? us : MIN_US);
}

/* 2^k as people write sizes: 512, 1K, 16K, 4M, 2G. */
static void size_label(char *buf, size_t size, int k)
{
    static const char suffix[] = " KMGTPE";

    if (k < 0 || k >= 70)
        snprintf(buf, size, "2^%d", k);
    else if (k < 10)
        snprintf(buf, size, "%d", 1 << k);
    else
        snprintf(buf, size, "%d%c", 1 << (k % 10), suffix[k / 10]);
}

/* 10^d microseconds: 0.1US, 1US, 100US, 1MS, 10S. */
static void time_label(char *buf, size_t size, int d)
{
    static const char *const unit[] = {"US", "MS", "S"};

    if (d < -3 || d >= 9)
        snprintf(buf, size, "1E%dUS", d);
    else if (d < 0)
        snprintf(buf, size, "%.*fUS", -d, pow(10.0, d));
    else
        snprintf(buf, size, "%d%s", d % 3 == 0 ? 1 : d % 3 == 1 ? 10 : 100, unit[d / 3]);
}

static void draw_panel(png_image *im, const axes *a, bench_op op, const bench_result *r,
                       size_t count)
{
    char label[32];
    int first = (int)ceil(a->xlo), last = (int)floor(a->xhi);
    double per_power = (double)(a->right - a->left) / (a->xhi - a->xlo);
    int widest = png_text_width("256K", TEXT) + 12, stride = 1;

    while (stride * per_power < widest)
        stride++;
    png_text(im, (a->left + a->right - png_text_width(op_label[op], TEXT)) / 2, AREA_TOP - 26,
             op_label[op], TEXT, BLACK);

    /* Decades: grid line, tick and label; the 2..9 multiples get a small tick. */
    for (int d = (int)a->ylo; d <= (int)a->yhi; d++) {
        int y = py(a, d);

        png_line(im, a->left, y, a->right, y, 1, GRID);
        png_line(im, a->left - TICK, y, a->left, y, 1, BLACK);
        time_label(label, sizeof label, d);
        png_text(im, a->left - TICK - 4 - png_text_width(label, TEXT),
                 y - png_text_height(TEXT) / 2, label, TEXT, BLACK);
        for (int m = 2; m <= 9 && d < (int)a->yhi; m++) {
            int ym = py(a, d + log10(m));

            png_line(im, a->left - MINOR_TICK, ym, a->left, ym, 1, BLACK);
        }
    }
    /* Powers of two: a tick each, a grid line and a label every `stride`. */
    for (int k = first; k <= last; k++) {
        int x = px(a, k);

        if ((k - first) % stride == 0) {
            png_line(im, x, a->top, x, a->bottom, 1, GRID);
            png_line(im, x, a->bottom, x, a->bottom + TICK, 1, BLACK);
            size_label(label, sizeof label, k);
            png_text(im, x - png_text_width(label, TEXT) / 2, a->bottom + TICK + 4, label, TEXT,
                     BLACK);
        } else {
            png_line(im, x, a->bottom, x, a->bottom + MINOR_TICK, 1, BLACK);
        }
    }
    png_text(im, (a->left + a->right - png_text_width("N", TEXT)) / 2, a->bottom + 40, "N",
             TEXT, BLACK);

    for (int m = 0; m < BENCH_METHODS; m++) {
        int have_prev = 0, x0 = 0, y0 = 0;

        for (size_t i = 0; i < count; i++) {
            int x, y;

            if (!r[i].measured) {
                have_prev = 0; /* a skipped N breaks the line rather than bridging it */
                continue;
            }
            x = px(a, log2((double)r[i].n));
            y = py(a, time_log(r[i].median_us[op][m]));
            if (have_prev)
                png_line(im, x0, y0, x, y, 2, method_colour[m]);
            png_fill_rect(im, x - MARKER, y - MARKER, x + MARKER, y + MARKER, method_colour[m]);
            x0 = x;
            y0 = y;
            have_prev = 1;
        }
    }
    /* The frame last, over the grid and any line that runs along an edge. */
    png_line(im, a->left, a->top, a->right, a->top, 1, BLACK);
    png_line(im, a->left, a->bottom, a->right, a->bottom, 1, BLACK);
    png_line(im, a->left, a->top, a->left, a->bottom, 1, BLACK);
    png_line(im, a->right, a->top, a->right, a->bottom, 1, BLACK);
}

static void draw_legend(png_image *im, int y)
{
    const int swatch = 28, gap = 40;
    int width = 0, x;

    for (int m = 0; m < BENCH_METHODS; m++)
        width += swatch + 8 + png_text_width(method_label[m], TEXT) + (m ? gap : 0);
    x = (PLOT_W - width) / 2;
    for (int m = 0; m < BENCH_METHODS; m++) {
        int mid = y + png_text_height(TEXT) / 2;

        png_line(im, x, mid, x + swatch, mid, 2, method_colour[m]);
        png_fill_rect(im, x + swatch / 2 - MARKER, mid - MARKER, x + swatch / 2 + MARKER,
                      mid + MARKER, method_colour[m]);
        x += swatch + 8;
        png_text(im, x, y, method_label[m], TEXT, BLACK);
        x += png_text_width(method_label[m], TEXT) + gap;
    }
}

int bench_plot_png(const char *path, const char *title, const bench_result *results,
                   size_t count, char *err, size_t errlen)
{
    png_image im;
    axes a;
    double nmin = 0, nmax = 0, tmin = 0, tmax = 0;
    char line[160];
    int any = 0, rc;

    for (size_t i = 0; i < count; i++) {
        if (!results[i].measured)
            continue;
        if (!any || (double)results[i].n < nmin)
            nmin = (double)results[i].n;
        if (!any || (double)results[i].n > nmax)
            nmax = (double)results[i].n;
        for (int op = 0; op < BENCH_OPS; op++)
            for (int m = 0; m < BENCH_METHODS; m++) {
                double t = time_log(results[i].median_us[op][m]);

                if (!any || t < tmin)
                    tmin = t;
                if (!any || t > tmax)
                    tmax = t;
                any = 1;
            }
    }
    if (!any) {
        snprintf(err, errlen, "no size was measured, nothing to plot");
        return -1;
    }
    if (png_image_init(&im, PLOT_W, PLOT_H, WHITE) != 0) {
        snprintf(err, errlen, "out of host memory for a %dx%d image", PLOT_W, PLOT_H);
        return -1;
    }

    /* Whole decades of time shared by the panels; half a power of two beyond the sizes. */
    a.top = AREA_TOP;
    a.bottom = AREA_BOTTOM;
    a.xlo = log2(nmin) - 0.5;
    a.xhi = log2(nmax) + 0.5;
    a.ylo = floor(tmin);
    a.yhi = ceil(tmax);
    if (a.yhi <= a.ylo)
        a.yhi = a.ylo + 1;

    snprintf(line, sizeof line, "%s", title);
    while (png_text_width(line, TEXT) > PLOT_W - 40) /* long device names */
        line[strlen(line) - 1] = '\0';
    png_text(&im, 20, 12, line, TEXT, BLACK);
    png_text(&im, 20, 34, "median time per call against N, both on log scales", TEXT, BLACK);
    for (int op = 0; op < BENCH_OPS; op++) {
        a.left = op * PANEL_STEP + PANEL_LEFT;
        a.right = op * PANEL_STEP + PANEL_RIGHT;
        draw_panel(&im, &a, (bench_op)op, results, count);
    }
    draw_legend(&im, PLOT_H - 34);

    rc = png_write(&im, path, err, errlen);
    png_image_free(&im);
    return rc;
}
