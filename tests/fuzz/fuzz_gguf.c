/* fuzz_gguf.c — a GGUF file in memory: parsed, then checked as a model the
 * way lvk_model_load does before it needs a device (hyper-parameters,
 * tokenizer, every weight's shape and type, the early-exit and speculation
 * metadata). */
#include "decode/exit_config.h"
#include "fuzz.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_file *f;
    if (FUZZ_CALL(gguf_parse(data, size, &f)) != LVK_OK) return 0;
    /* `litevk info` prints the first elements of numeric arrays */
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_value *v = &f->kv[i].value;
        if (v->type == GGUF_ARRAY && v->arr_type != GGUF_STRING && v->arr_type != GGUF_ARRAY)
            for (uint64_t j = 0; j < v->arr_count && j < 16; j++) (void)gguf_arr_num(v, j);
    }
    host_model *m;
    if (FUZZ_CALL(host_model_from_gguf(f, &m)) != LVK_OK) return 0; /* f is closed */
    lvk_exit_config cfg;
    int calibrated;
    if (FUZZ_CALL(exit_config_from_gguf(m->file, m->hp.n_layers, &cfg, &calibrated)) == LVK_OK) {
        FUZZ_CHECK(FUZZ_CALL(lvk_exit_config_validate(&cfg, m->hp.n_layers)) == LVK_OK);
        /* the draft settings (litevk.speculate.*, or their defaults) can always be used */
        cfg.decode = LVK_DECODE_SPECULATE;
        if (cfg.n_exits > 0) FUZZ_CHECK(FUZZ_CALL(lvk_exit_config_validate(&cfg, m->hp.n_layers)) == LVK_OK);
    }
    host_model_free(m);
    return 0;
}
