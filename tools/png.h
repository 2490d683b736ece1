/* SPDX-License-Identifier: MIT */
/* A minimal RGB raster (lines, rectangles, 5x7 text) and an uncompressed PNG writer. */
#ifndef CLMSE_TOOLS_PNG_H
#define CLMSE_TOOLS_PNG_H

#include <stddef.h>
#include <stdint.h>

/* 8-bit RGB pixels, row-major from the top-left corner. Colours are 0xRRGGBB. */
typedef struct png_image {
    int width, height;
    unsigned char *rgb;
} png_image;

/* Allocates a width x height image filled with `background`. Returns 0, or -1 (no memory or
 * a size outside 1..16384). */
int png_image_init(png_image *im, int width, int height, uint32_t background);
void png_image_free(png_image *im);

/* Drawing clips to the image. Rectangles include both corners. */
void png_fill_rect(png_image *im, int x0, int y0, int x1, int y1, uint32_t colour);
/* A straight line `width` pixels thick (Bresenham, a width x width brush). */
void png_line(png_image *im, int x0, int y0, int x1, int y1, int width, uint32_t colour);

/* Text in a built-in 5x7 font, `scale` pixels per font dot, top-left corner at (x, y). Digits,
 * capitals and " .,-+/():=^_%*?" are drawn; lower case as capitals; anything else as '?'. */
void png_text(png_image *im, int x, int y, const char *text, int scale, uint32_t colour);
/* Width in pixels of png_text()'s output, and the height of a line of it. */
int png_text_width(const char *text, int scale);
int png_text_height(int scale);

/* Writes the image as an 8-bit RGB PNG with stored (uncompressed) deflate blocks. Returns 0,
 * or -1 with a one-line reason in `err`; a file that could not be finished is removed. */
int png_write(const png_image *im, const char *path, char *err, size_t errlen);

#endif /* CLMSE_TOOLS_PNG_H */
