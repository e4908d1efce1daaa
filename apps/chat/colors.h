/* colors.h — the exit-block colour gradient, shared by the transcript, the
 * legend and the histogram. */
#ifndef LVK_CHAT_COLORS_H
#define LVK_CHAT_COLORS_H

typedef struct rgb {
    unsigned char r, g, b;
} rgb;

/* The colour of a token that ran `layer` blocks of `n_layers`: a perceptually
 * ordered gradient from warm (layer 1: left very early) to cool (n_layers:
 * full depth), readable on the app's dark background. layer is clamped to
 * 1..n_layers; n_layers < 1 is treated as 1. */
rgb exit_color(int layer, int n_layers);

#endif
