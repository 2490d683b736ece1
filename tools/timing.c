/* SPDX-License-Identifier: MIT */
/* The clock and the median the timing commands share. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under strict -std=c11 */

#include "timing.h"

#include <stdlib.h>
#include <time.h>

double timing_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double timing_median(double *v, size_t count)
{
    qsort(v, count, sizeof *v, compare_double);
    return count % 2 ? v[count / 2] : (v[count / 2 - 1] + v[count / 2]) / 2.0;
}
