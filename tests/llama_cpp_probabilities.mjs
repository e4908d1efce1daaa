// The llama.cpp side of convert_hf_llama_cpp.py: loads a GGUF with llama.cpp (the
// CPU build node-llama-cpp ships, never built or downloaded here), evaluates each
// prompt of token ids from an empty context, and prints one JSON line: for each
// prompt, the probability of every token to come next ({"id": p, ...}). The K/V
// cache is F32 and sampling plain (temperature 1, no top-k, top-p or min-p), so
// that the probabilities are the model's softmax in float32.
//
//   node llama_cpp_probabilities.mjs NODE_MODULES MODEL.gguf '[[1, 2, 3], [4]]'
import path from "node:path";
import { pathToFileURL } from "node:url";

const [nodeModules, modelPath, promptsJson] = process.argv.slice(2);
if (!promptsJson) {
    process.stderr.write("usage: node llama_cpp_probabilities.mjs NODE_MODULES MODEL.gguf PROMPTS_JSON\n");
    process.exit(2);
}
const entry = path.join(nodeModules, "node-llama-cpp", "dist", "index.js");
const { getLlama } = await import(pathToFileURL(entry).href);
const llama = await getLlama({
    gpu: false, build: "never", skipDownload: true, logLevel: "warn",
    logger: (level, message) => {
        if (level === "error" || level === "fatal" || level === "warn") process.stderr.write(`llama.cpp ${level}: ${message}`);
    },
});
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({
    contextSize: 64, batchSize: 64, sequences: 1, threads: 1, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
});
const result = [];
for (const prompt of JSON.parse(promptsJson)) {
    const sequence = context.getSequence();
    // the token drawn does not matter, but an end of text drawn must still be yielded
    const tokens = sequence.evaluateWithMetadata(prompt, { probabilities: true },
        { temperature: 1, topK: 0, topP: 1, minP: 0, yieldEogToken: true });
    const next = await tokens.next();
    result.push(Object.fromEntries(next.value.probabilities));
    await tokens.return();
    sequence.dispose();
}
console.log(JSON.stringify(result));
await context.dispose();
await model.dispose();
await llama.dispose();
