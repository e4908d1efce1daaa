/* colors.c — see colors.h.
 *
 * The gradient is a sweep of hue in OKLCH (Björn Ottosson's OKLab in polar
 * form), from red through orange, yellow, green and cyan to blue, at one
 * perceived lightness: no colour stands out or fades just by its brightness,
 * and all of them read well on the dark background (#1e1e24; contrast ratios
 * of 7 to 8). Each hue takes the most chroma sRGB can show at that lightness,
 * up to a cap, so the ends are as vivid as the middle allows. */
#include "colors.h"

#include <math.h>

#define LIGHTNESS 0.75 /* OKLab L of every colour */
#define MAX_CHROMA 0.16
#define HUE_EARLY 30.0 /* degrees: red */
#define HUE_FULL 250.0 /* degrees: blue */

/* OKLab to linear sRGB (the matrices of Ottosson's reference code). */
static void oklab_to_linear_srgb(double L, double a, double b, double out[3]) {
    double l = L + 0.3963377774 * a + 0.2158037573 * b;
    double m = L - 0.1055613458 * a - 0.0638541728 * b;
    double s = L - 0.0894841775 * a - 1.2914855480 * b;
    l = l * l * l, m = m * m * m, s = s * s * s;
    out[0] = 4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s;
    out[1] = -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s;
    out[2] = -0.0041960863 * l - 0.7034186147 * m + 1.7076147010 * s;
}

static void oklch_to_linear_srgb(double chroma, double hue_deg, double out[3]) {
    double h = hue_deg * M_PI / 180;
    oklab_to_linear_srgb(LIGHTNESS, chroma * cos(h), chroma * sin(h), out);
}

static int in_gamut(const double c[3]) {
    for (int i = 0; i < 3; i++)
        if (c[i] < 0 || c[i] > 1) return 0;
    return 1;
}

/* The sRGB transfer function, to 8 bits. */
static unsigned char encode(double linear) {
    double v = linear <= 0.0031308 ? 12.92 * linear : 1.055 * pow(linear, 1 / 2.4) - 0.055;
    return (unsigned char)lround(fmin(fmax(v, 0), 1) * 255);
}

rgb exit_color(int layer, int n_layers) {
    if (n_layers < 1) n_layers = 1;
    if (layer < 1) layer = 1;
    if (layer > n_layers) layer = n_layers;
    /* a model of one block has nothing but full depth */
    double t = n_layers == 1 ? 1 : (double)(layer - 1) / (n_layers - 1);
    double hue = HUE_EARLY + t * (HUE_FULL - HUE_EARLY);

    /* The largest chroma up to the cap that is inside sRGB, by bisection: at
     * one lightness and hue, the colours sRGB holds run from grey outwards up
     * to the edge of the gamut. */
    double c[3], lo = 0, hi = MAX_CHROMA;
    oklch_to_linear_srgb(hi, hue, c);
    if (!in_gamut(c)) {
        for (int i = 0; i < 20; i++) {
            double mid = (lo + hi) / 2;
            oklch_to_linear_srgb(mid, hue, c);
            if (in_gamut(c)) lo = mid;
            else hi = mid;
        }
        oklch_to_linear_srgb(lo, hue, c);
    }
    return (rgb){encode(c[0]), encode(c[1]), encode(c[2])};
}
