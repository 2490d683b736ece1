/* SPDX-License-Identifier: MIT */
/* A minimal RGB raster (lines, rectangles, 5x7 text) and an uncompressed PNG writer. */
#include "png.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PNG_MAX_SIDE 16384 /* keeps the one IDAT chunk far below PNG's 2^31 - 1 byte limit */
#define PNG_STORED_MAX 65535u /* bytes in one stored deflate block */
#define ADLER_MOD 65521u
#define FONT_W 5
#define FONT_H 7
#define FONT_ADVANCE 6

/* ---- raster ------------------------------------------------------------------------------ */

int png_image_init(png_image *im, int width, int height, uint32_t background)
{
    im->width = im->height = 0;
    im->rgb = NULL;
    if (width < 1 || height < 1 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE)
        return -1;
    im->rgb = malloc((size_t)width * (size_t)height * 3);
    if (!im->rgb)
        return -1;
    im->width = width;
    im->height = height;
    png_fill_rect(im, 0, 0, width - 1, height - 1, background);
    return 0;
}

void png_image_free(png_image *im)
{
    free(im->rgb);
    im->rgb = NULL;
    im->width = im->height = 0;
}

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

void png_fill_rect(png_image *im, int x0, int y0, int x1, int y1, uint32_t colour)
{
    int xa = max_int(min_int(x0, x1), 0), xb = min_int(max_int(x0, x1), im->width - 1);
    int ya = max_int(min_int(y0, y1), 0), yb = min_int(max_int(y0, y1), im->height - 1);

    for (int y = ya; y <= yb; y++)
        for (int x = xa; x <= xb; x++) {
            unsigned char *p = im->rgb + ((size_t)y * (size_t)im->width + (size_t)x) * 3;

            p[0] = (unsigned char)(colour >> 16);
            p[1] = (unsigned char)(colour >> 8);
            p[2] = (unsigned char)colour;
        }
}

void png_line(png_image *im, int x0, int y0, int x1, int y1, int width, uint32_t colour)
{
    int dx = x1 > x0 ? x1 - x0 : x0 - x1, dy = y1 > y0 ? y0 - y1 : y1 - y0;
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    int lo = (width - 1) / 2, hi = width / 2;

    for (;;) {
        int e2 = 2 * e;

        png_fill_rect(im, x0 - lo, y0 - lo, x0 + hi, y0 + hi, colour);
        if (x0 == x1 && y0 == y1)
            break;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

/* One row of 5 dots per byte, the leftmost dot in bit 4. */
static const char font_chars[] = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,-+/():=^_%*?";
static const unsigned char font_rows[][FONT_H] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, /* 0 */
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* 1 */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, /* 2 */
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}, /* 3 */
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, /* 4 */
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}, /* 5 */
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, /* 6 */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* 7 */
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, /* 8 */
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}, /* 9 */
    {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}, /* A */
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}, /* B */
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}, /* C */
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}, /* D */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, /* E */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}, /* F */
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}, /* G */
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, /* H */
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}, /* L */
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* N */
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* O */
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}, /* P */
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}, /* Q */
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}, /* R */
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, /* S */
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}, /* W */
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}, /* X */
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}, /* Y */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}, /* Z */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}, /* . */
    {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}, /* , */
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}, /* + */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}, /* / */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, /* ) */
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}, /* : */
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}, /* = */
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00}, /* ^ */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}, /* _ */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, /* % */
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00}, /* * */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, /* ? */
};

_Static_assert(sizeof font_chars - 1 == sizeof font_rows / sizeof font_rows[0],
               "one glyph per font character");

static const unsigned char *glyph(char c)
{
    const char *at;

    c = (char)toupper((unsigned char)c);
    at = c ? strchr(font_chars, c) : NULL;
    if (!at)
        at = strchr(font_chars, '?');
    return font_rows[at - font_chars];
}

void png_text(png_image *im, int x, int y, const char *text, int scale, uint32_t colour)
{
    for (; *text; text++, x += FONT_ADVANCE * scale) {
        const unsigned char *rows = glyph(*text);

        for (int r = 0; r < FONT_H; r++)
            for (int c = 0; c < FONT_W; c++)
                if (rows[r] & (0x10u >> c))
                    png_fill_rect(im, x + c * scale, y + r * scale, x + (c + 1) * scale - 1,
                                  y + (r + 1) * scale - 1, colour);
    }
}

int png_text_width(const char *text, int scale)
{
    size_t len = strlen(text);

    /* The last glyph needs no gap after it. */
    return len ? (int)(len * FONT_ADVANCE - (FONT_ADVANCE - FONT_W)) * scale : 0;
}

int png_text_height(int scale)
{
    return FONT_H * scale;
}

/* ---- PNG file ---------------------------------------------------------------------------- */

typedef struct png_out {
    FILE *f;
    int failed; /* set by the first failing write, whose errno is kept in `error` */
    int error;
    uint32_t crc;            /* of the current chunk, from its type on */
    uint32_t crc_table[256];
    uint32_t adler_a, adler_b; /* of the uncompressed image data */
    size_t raw_left;         /* image bytes (filter bytes included) still to send */
    size_t block_left;       /* bytes left in the current stored block */
} png_out;

static void crc_init(png_out *o)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;

        for (int k = 0; k < 8; k++)
            c = c & 1 ? UINT32_C(0xEDB88320) ^ (c >> 1) : c >> 1;
        o->crc_table[n] = c;
    }
}

static void out_bytes(png_out *o, const unsigned char *p, size_t len)
{
    if (fwrite(p, 1, len, o->f) != len && !o->failed) {
        o->failed = 1;
        o->error = errno;
    }
    for (size_t i = 0; i < len; i++)
        o->crc = o->crc_table[(o->crc ^ p[i]) & 0xFF] ^ (o->crc >> 8);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void out_u32(png_out *o, uint32_t v)
{
    unsigned char b[4];

    put_u32(b, v);
    out_bytes(o, b, 4);
}

/* Length and type; the CRC then covers the type and the data. */
static void chunk_begin(png_out *o, const char *type, uint32_t length)
{
    out_u32(o, length);
    o->crc = UINT32_C(0xFFFFFFFF);
    out_bytes(o, (const unsigned char *)type, 4);
}

static void chunk_end(png_out *o)
{
    out_u32(o, o->crc ^ UINT32_C(0xFFFFFFFF));
}

/* Image bytes into stored deflate blocks, each headed by BFINAL/BTYPE=00, LEN and NLEN. */
static void deflate_stored(png_out *o, const unsigned char *p, size_t len)
{
    while (len > 0) {
        size_t take;

        if (o->block_left == 0) {
            size_t block = o->raw_left < PNG_STORED_MAX ? o->raw_left : PNG_STORED_MAX;
            unsigned char head[5] = {block == o->raw_left ? 1 : 0, (unsigned char)block,
                                     (unsigned char)(block >> 8), (unsigned char)~block,
                                     (unsigned char)(~block >> 8)};

            out_bytes(o, head, sizeof head);
            o->block_left = block;
        }
        take = len < o->block_left ? len : o->block_left;
        out_bytes(o, p, take);
        for (size_t i = 0; i < take; i++) {
            o->adler_a = (o->adler_a + p[i]) % ADLER_MOD;
            o->adler_b = (o->adler_b + o->adler_a) % ADLER_MOD;
        }
        p += take;
        len -= take;
        o->block_left -= take;
        o->raw_left -= take;
    }
}

int png_write(const png_image *im, const char *path, char *err, size_t errlen)
{
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    static const unsigned char zlib_head[2] = {0x78, 0x01}; /* deflate, 32K window, no dict */
    const unsigned char filter_none = 0;
    size_t row = (size_t)im->width * 3, raw = (row + 1) * (size_t)im->height;
    size_t blocks = (raw + PNG_STORED_MAX - 1) / PNG_STORED_MAX;
    unsigned char ihdr[13];
    png_out *o;

    o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of host memory");
        return -1;
    }
    o->f = fopen(path, "wb");
    if (!o->f) {
        snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
        free(o);
        return -1;
    }
    crc_init(o);
    o->adler_a = 1;
    o->raw_left = raw;

    out_bytes(o, signature, sizeof signature);
    put_u32(ihdr, (uint32_t)im->width);
    put_u32(ihdr + 4, (uint32_t)im->height);
    ihdr[8] = 8;  /* bits per sample */
    ihdr[9] = 2;  /* colour type: RGB */
    ihdr[10] = 0; /* compression: deflate */
    ihdr[11] = 0; /* filter method 0 */
    ihdr[12] = 0; /* no interlace */
    chunk_begin(o, "IHDR", sizeof ihdr);
    out_bytes(o, ihdr, sizeof ihdr);
    chunk_end(o);

    chunk_begin(o, "IDAT", (uint32_t)(sizeof zlib_head + blocks * 5 + raw + 4));
    out_bytes(o, zlib_head, sizeof zlib_head);
    for (int y = 0; y < im->height; y++) {
        deflate_stored(o, &filter_none, 1);
        deflate_stored(o, im->rgb + (size_t)y * row, row);
    }
    out_u32(o, (o->adler_b << 16) | o->adler_a);
    chunk_end(o);

    chunk_begin(o, "IEND", 0);
    chunk_end(o);

    if (!o->failed && (fflush(o->f) != 0 || ferror(o->f))) {
        o->failed = 1;
        o->error = errno;
    }
    if (fclose(o->f) != 0 && !o->failed) {
        o->failed = 1;
        o->error = errno;
    }
    if (o->failed) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(o->error));
        remove(path);
        free(o);
        return -1;
    }
    free(o);
    return 0;
}
