/* Miss-ratio curves as SVG: see svg.h. */
#include <math.h>

#include "svg.h"

#define W 720
#define H 440
#define L 70  /* left margin */
#define R 130 /* right margin, for the legend */
#define T 40
#define B 50

static const char *const colours[] = {
	"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
	"#8c564b", "#e377c2", "#7f7f7f", "#17becf", "#bcbd22", "#000000",
};

void svg_mrc(FILE *f, const char *title, const double *x, size_t nx,
	     const char *const *series, size_t ns, const double *y)
{
	double xmin = x[0], xmax = x[0];

	for (size_t i = 1; i < nx; i++) {
		xmin = x[i] < xmin ? x[i] : xmin;
		xmax = x[i] > xmax ? x[i] : xmax;
	}
	if (xmax <= xmin)
		xmax = xmin * 2;
	double lx0 = log(xmin), lx1 = log(xmax);
	double pw = W - L - R, ph = H - T - B;

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		   "height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n",
		W, H);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"14\">%s</text>\n", L,
		title);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" "
		   "fill=\"none\" stroke=\"#444\"/>\n", L, T, pw, ph);
	for (int k = 0; k <= 4; k++) {
		double yy = T + ph - ph * k / 4.0;
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f"
			   "</text>\n", L - 6, yy + 4, k / 4.0);
	}
	for (size_t i = 0; i < nx; i++) {
		double xx = L + pw * (log(x[i]) - lx0) / (lx1 - lx0);
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
			   "%g%%</text>\n", xx, H - B + 16, x[i] * 100);
	}
	fprintf(f, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">frames "
		   "(share of the footprint, log scale)</text>\n", L + pw / 2,
		H - 12);
	fprintf(f, "<text transform=\"translate(16 %.0f) rotate(-90)\" "
		   "text-anchor=\"middle\">miss ratio</text>\n", T + ph / 2);
	for (size_t s = 0; s < ns; s++) {
		const char *c = colours[s % (sizeof(colours) / sizeof(colours[0]))];
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width="
			   "\"1.5\" points=\"", c);
		for (size_t i = 0; i < nx; i++) {
			double xx = L + pw * (log(x[i]) - lx0) / (lx1 - lx0);
			double yy = T + ph - ph * y[s * nx + i];
			fprintf(f, "%.1f,%.1f ", xx, yy);
		}
		fprintf(f, "\"/>\n");
		fprintf(f, "<text x=\"%d\" y=\"%zu\" fill=\"%s\">%s</text>\n",
			W - R + 10, T + 14 + 16 * s, c, series[s]);
	}
	fprintf(f, "</svg>\n");
}
