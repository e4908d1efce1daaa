/* model.h — a LLaMA model as it sits in the GGUF file (host side).
 *
 * The hyper-parameters come from the llama.* metadata; the weights point into
 * the memory-mapped file. Both the plain-C reference forward and the Vulkan
 * upload read from this struct.
 */
#ifndef LVK_MODEL_H
#define LVK_MODEL_H

#include "formats/gguf.h"
#include "model/tokenizer.h"

/* The architectures LiteVK runs: LLaMA's block, with what sets each apart. */
typedef struct arch_desc {
    const char *name;  /* general.architecture, and the prefix of its metadata keys */
    int rope_neox;     /* RoPE pairs dimension i with i + rope_dim/2 (GPT-NeoX's order), not i+1 */
    int qkv_bias;      /* Q, K and V have biases (blk.N.attn_q.bias ...) */
} arch_desc;

typedef struct model_hparams {
    const arch_desc *arch;
    int n_layers;   /* transformer blocks */
    int n_embd;     /* model dimension */
    int n_heads;    /* query heads */
    int n_kv_heads; /* key/value heads (grouped-query attention when < n_heads) */
    int head_dim;   /* attention.key_length, else n_embd / n_heads */
    int n_ff;       /* feed-forward hidden dimension */
    int n_vocab;
    int n_ctx_train;
    int rope_dim;   /* leading dimensions of each head that RoPE rotates */
    float rope_base;
    float rope_freq_scale; /* positions are scaled by this: 1 / rope.scaling.factor of linear scaling */
    const float *rope_factors; /* rope_freqs.weight [rope_dim/2] (Llama 3.1's RoPE scaling), or NULL;
                                * in the model's file, whose life it shares */
    float rms_eps;
} model_hparams;

/* A weight matrix W[rows][cols] (GGUF ne = {cols, rows}) or a vector (rows 1). */
typedef struct weight_tensor {
    uint32_t type;   /* enum ggml_type */
    uint64_t rows, cols;
    const void *data;
    uint64_t n_bytes;
} weight_tensor;

typedef struct layer_weights {
    weight_tensor attn_norm;          /* [n_embd] */
    weight_tensor wq, wk, wv, wo;     /* [q_dim][n_embd], [kv_dim][n_embd] x2, [n_embd][q_dim] */
    weight_tensor bq, bk, bv;         /* [q_dim], [kv_dim] x2, F32, where the architecture has them; else data NULL */
    weight_tensor ffn_norm;           /* [n_embd] */
    weight_tensor w_gate, w_up;       /* [n_ff][n_embd] */
    weight_tensor w_down;             /* [n_embd][n_ff] */
} layer_weights;

typedef struct host_model {
    gguf_file *file;
    model_hparams hp;
    weight_tensor tok_embd;    /* [n_vocab][n_embd] */
    weight_tensor output_norm; /* [n_embd] */
    weight_tensor output;      /* [n_vocab][n_embd]; the same as tok_embd when tied */
    int output_tied;
    layer_weights *layers;
    text_tokenizer *tokenizer;
    char name[128];
} host_model;

/* The block count of a parsed GGUF, under its architecture's key
 * ("<arch>.block_count"), checked as loading checks it. */
lvk_status block_count_from_gguf(const gguf_file *f, int *n_layers);
lvk_status host_model_open(const char *path, host_model **out);
/* The same checks on a GGUF already parsed (from a file or from memory, as
 * the fuzzer does): takes ownership of f, which is closed on failure. */
lvk_status host_model_from_gguf(gguf_file *f, host_model **out);
/* Only the vocabulary (tokenizer.ggml.*) and general.name of a GGUF: hp is
 * zero but for n_vocab, there are no weights, and the architecture is not
 * read, so llama.cpp's vocabulary files (ggml-vocab-*.gguf) load too. */
lvk_status host_vocab_open(const char *path, host_model **out);
void host_model_free(host_model *m);

static inline int hp_q_dim(const model_hparams *hp) { return hp->n_heads * hp->head_dim; }
static inline int hp_kv_dim(const model_hparams *hp) { return hp->n_kv_heads * hp->head_dim; }

/* The RoPE angle of pair `pair` (0..rope_dim/2) at position pos: pos times
 * freq_scale times base^(-2 pair / rope_dim), divided by the pair's factor of
 * rope_freqs where the model has them. The one rule: the reference and the
 * GPU's table take every angle from here. */
float rope_angle(const model_hparams *hp, int pos, int pair);

/* The row of a query or key matrix (or bias, or K cache; of the model's
 * order) that the GPU computes at row gpu_row: its RoPE rotates neighbouring
 * rows, so within each head a NeoX-order model's pair (i, i + rope_dim/2) is
 * computed at (2i, 2i + 1); dimensions past rope_dim, and LLaMA-order models,
 * keep theirs. Attention is a dot product over a head's dimensions, which
 * does not depend on their order, as long as Q and K share it. */
uint64_t rope_source_row(const model_hparams *hp, uint64_t gpu_row);

#endif
