package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.tokenizer.Tokenizer;

import java.nio.file.Path;

/** A model file opened for a command: the GGUF file, the model, its tokenizer, and how long loading took. */
record LoadedModel(GgufFile file, Model model, Tokenizer tokenizer, long loadNanos) implements AutoCloseable {

    static LoadedModel open(Path path, boolean needTokenizer) {
        long t0 = System.nanoTime();
        GgufFile f = GgufFile.open(path);
        try {
            Model m = ModelLoader.load(f);
            Tokenizer tok = Tokenizer.fromGguf(f);
            if (needTokenizer && tok == null)
                throw new LockstepException(path + ": the file has no tokenizer (tokenizer.ggml.model is missing or no_vocab)");
            return new LoadedModel(f, m, tok, System.nanoTime() - t0);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    static Tokenizer tokenizerOnly(GgufFile f) {
        Tokenizer tok = Tokenizer.fromGguf(f);
        if (tok == null) throw new LockstepException(f.path() + ": the file has no tokenizer");
        return tok;
    }

    @Override
    public void close() {
        file.close();
    }
}
