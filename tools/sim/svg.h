/* Miss-ratio curves as SVG (svg.c). */
#ifndef ZPAGE_SIM_SVG_H
#define ZPAGE_SIM_SVG_H

#include <stddef.h>
#include <stdio.h>

/* One line per series: y[s * nx + i] is series s's miss ratio at x[i]
 * (frames as a share of the footprint, 0..1, drawn on a log scale). */
void svg_mrc(FILE *f, const char *title, const double *x, size_t nx,
	     const char *const *series, size_t ns, const double *y);

#endif /* ZPAGE_SIM_SVG_H */
