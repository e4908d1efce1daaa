/* sampler.h — choosing a token from logits: temperature, top-k, top-p, min-p, seeded. */
#ifndef LVK_SAMPLER_H
#define LVK_SAMPLER_H

#include <stdint.h>

typedef struct token_sampler {
    float temperature; /* <= 0: greedy */
    int top_k;         /* <= 0: all */
    float top_p;       /* >= 1: all */
    float min_p;       /* <= 0: all */
    uint64_t rng;      /* xorshift64* state */
    struct sampler_candidate { float p; int32_t id; } *candidates; /* [n_vocab] */
    int n_vocab;
} token_sampler;

/* Returns 0 on success, -1 when out of memory. */
int sampler_init(token_sampler *s, int n_vocab, float temperature, int top_k, float top_p, float min_p, uint64_t seed);
void sampler_free(token_sampler *s);
/* The distribution tokens are sampled from: softmax(logits / temperature)
 * restricted to the top_k most likely tokens, the smallest set whose
 * probability reaches top_p, and the tokens whose softmax(logits) is at least
 * min_p times the top token's (llama.cpp applies min-p before temperature
 * too), renormalised, into probs[n_vocab] (0 outside the set); at
 * temperature 0, all of it on the argmax. */
void sampler_distribution(token_sampler *s, const float *logits, float *probs);
/* Draws an id with probability proportional to weights[id] (negative
 * weights count as 0; at least one must be positive). */
int32_t sampler_draw(token_sampler *s, const float *weights);
/* sampler_distribution into probs[n_vocab], then a draw from it. */
int32_t sampler_sample(token_sampler *s, const float *logits, float *probs);
/* llama.cpp's repetition penalty on logits[n_vocab]: each distinct token of
 * recent[0..n) has its logit divided by `penalty` when positive, multiplied
 * when not. `seen` is n_vocab bytes of zeros (left zero) that mark the tokens
 * penalized already. */
void sampler_penalize(float *logits, const int32_t *recent, int n, float penalty, uint8_t *seen);
/* Uniform float in [0,1) from the sampler's generator. */
float sampler_uniform(token_sampler *s);

#endif
