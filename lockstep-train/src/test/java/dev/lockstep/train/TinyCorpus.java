package dev.lockstep.train;

import dev.lockstep.tokenizer.Tokenizer;
import dev.lockstep.gguf.GgufFile;

import java.nio.file.Path;

/** A small text (written for these tests) and a tokenizer trained on it. */
final class TinyCorpus {
    private TinyCorpus() {}

    static final String TEXT = String.join("\n",
            "The cat sat on the mat and the dog sat on the log.",
            "A small bird sang in the tall tree while the sun rose over the hill.",
            "The farmer walked to the field and the horse followed him.",
            "In the morning the baker made bread, and in the evening he made cake.",
            "The river ran past the mill, and the miller counted his sacks of grain.",
            "Children played by the water and their mother called them home for supper.",
            "The old man told a story about a king who lost his crown in the sea.",
            "Snow fell on the roofs of the town and the streets grew quiet and white.")
            .repeat(12);

    static Path tokenizer(Path dir, int vocab) {
        Path p = dir.resolve("tok.gguf");
        BpeTrainer.trainToFile(TEXT, vocab, p);
        return p;
    }

    static Corpus corpus(Path tokFile) {
        try (GgufFile f = GgufFile.open(tokFile)) {
            return Corpus.of(TEXT, Tokenizer.fromGguf(f));
        }
    }

    static TrainConfig config(int vocab) {
        return new TrainConfig(32, 2, 4, 2, 64, vocab, 64, 10000f, 1e-5f);
    }
}
