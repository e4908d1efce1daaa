/* bench_compare.c — --compare: LiteVK's decode tokens/s beside reference
 * figures given on the command line (other runtimes'), one row per model. */
#include "bench.h"

#include <stdio.h>
#include <string.h>

const char *const row_keys[N_ROWS] = {"stories260K", "f32", "f16", "q8_0", "q4_0", "q4_k", "q6_k"};
const char *const row_names[N_ROWS] = {"stories260K F32", "TinyLlama-1.1B shapes F32",
                                              "TinyLlama-1.1B shapes F16", "TinyLlama-1.1B shapes Q8_0",
                                              "TinyLlama-1.1B shapes Q4_0", "TinyLlama-1.1B shapes Q4_K",
                                              "TinyLlama-1.1B shapes Q6_K"};
const uint32_t row_types[N_ROWS] = {GGML_F32, GGML_F32, GGML_F16, GGML_Q8_0, GGML_Q4_0, GGML_Q4_K, GGML_Q6_K};

typedef char cell[64];

/* Columns UTF-8 text takes on a terminal: continuation bytes take none. */
static int text_width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

/* Tokens/s with 3 or more significant digits, no exponent. */
static void format_rate(cell out, double tps) {
    snprintf(out, sizeof(cell), tps >= 100 ? "%.0f" : tps >= 10 ? "%.1f" : "%.2f", tps);
}

/* A reference figure as given, with LiteVK's ratio to it: "0.53 (2.4x)". */
static void format_ref(cell out, const char *text, double value, double tps) {
    double ratio = tps / value;
    if (!(tps > 0)) snprintf(out, sizeof(cell), "%s", text);
    else snprintf(out, sizeof(cell), ratio >= 10 ? "%s (%.0fx)" : "%s (%.2gx)", text, ratio);
}

int row_compared(const options *o, int row) {
    for (int c = 0; c < o->n_columns; c++)
        if (o->columns[c].text[row][0]) return 1;
    return 0;
}

/* One row per model some --compare names: LiteVK's decode tokens/s, each
 * column's figure with LiteVK's ratio to it, the bandwidth bound. */
void print_compare(const options *o, const measured *m) {
    enum { MAX_CELLS = MAX_COLUMNS + 3 };
    cell t[N_ROWS + 1][MAX_CELLS];
    int n_cells = o->n_columns + 3, n_lines = 1, width[MAX_CELLS] = {0};
    snprintf(t[0][0], sizeof(cell), "model");
    snprintf(t[0][1], sizeof(cell), "LiteVK");
    for (int c = 0; c < o->n_columns; c++) snprintf(t[0][2 + c], sizeof(cell), "%s", o->columns[c].label);
    snprintf(t[0][n_cells - 1], sizeof(cell), "bound");
    for (int row = 0; row < N_ROWS; row++) {
        if (!row_compared(o, row)) continue;
        cell *line = t[n_lines++];
        snprintf(line[0], sizeof(cell), "%s", row_names[row]);
        if (m->tps[row] > 0) format_rate(line[1], m->tps[row]);
        else snprintf(line[1], sizeof(cell), "not run");
        for (int c = 0; c < o->n_columns; c++) {
            const ref_column *col = &o->columns[c];
            if (col->text[row][0]) format_ref(line[2 + c], col->text[row], col->value[row], m->tps[row]);
            else snprintf(line[2 + c], sizeof(cell), "\u2014");
        }
        if (m->bound[row] > 0) format_rate(line[n_cells - 1], m->bound[row]);
        else snprintf(line[n_cells - 1], sizeof(cell), "\u2014");
    }
    for (int l = 0; l < n_lines; l++)
        for (int c = 0; c < n_cells; c++)
            if (text_width(t[l][c]) > width[c]) width[c] = text_width(t[l][c]);
    printf("compare: decode tokens/s; (Nx) = LiteVK / the figure, a range at its midpoint\n");
    for (int l = 0; l < n_lines; l++) {
        for (int c = 0; c < n_cells; c++) {
            int pad = width[c] - text_width(t[l][c]);
            if (c == 0) printf("  %s%*s", t[l][c], pad, ""); /* the model: left-aligned, the figures right */
            else printf("  %*s%s", pad, "", t[l][c]);
        }
        putchar('\n');
    }
    printf("  (bound = copy bandwidth / weight bytes per token; none for stories260K, whose weights fit in "
           "cache)\n");
}
