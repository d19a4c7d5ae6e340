package dev.blender.nativebridge;

/** {@code enum llama_vocab_type}: the tokenizer family of a vocabulary. */
public enum VocabType {
    NONE, SPM, BPE, WPM, UGM, RWKV;

    static VocabType of(int code) {
        VocabType[] all = values();
        if (code < 0 || code >= all.length) {
            throw new LlamaException("unknown llama_vocab_type " + code);
        }
        return all[code];
    }
}
