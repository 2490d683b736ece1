/* SPDX-License-Identifier: MIT */
/* The clock and the median the timing commands (bench, tune, demo, info --build) share. */
#ifndef CLMSE_TOOLS_TIMING_H
#define CLMSE_TOOLS_TIMING_H

#include <stddef.h>

/* CLOCK_MONOTONIC in microseconds. */
double timing_now_us(void);

/* The median of v[0..count) (count > 0); sorts v in place. */
double timing_median(double *v, size_t count);

#endif /* CLMSE_TOOLS_TIMING_H */
