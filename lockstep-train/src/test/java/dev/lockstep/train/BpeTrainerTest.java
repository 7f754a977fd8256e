package dev.lockstep.train;

import dev.lockstep.gguf.GgufFile;
import dev.lockstep.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BpeTrainerTest {
    @Test
    void trainedTokenizerLoadsRoundTripsAndCompresses(@TempDir Path tmp) {
        Path p = tmp.resolve("tok.gguf");
        BpeTrainer.Result r = BpeTrainer.trainToFile(TinyCorpus.TEXT, 400, p);
        assertEquals(400, r.tokens().size());
        assertEquals(BpeTrainer.END_OF_TEXT, r.tokens().get(r.endOfText()));
        try (GgufFile f = GgufFile.open(p)) {
            Tokenizer tok = Tokenizer.fromGguf(f);
            String s = "The miller counted his grain. Ünïcödé too: 1234!\n";
            int[] ids = tok.encode(s, false, false);
            assertEquals(s, tok.decode(ids));
            int[] common = tok.encode("The farmer walked to the field", false, false);
            assertTrue(common.length <= 8, "frequent words merge into few tokens: " + common.length);
            assertTrue(tok.isEndOfGeneration(r.endOfText()));
        }
        // deterministic
        assertEquals(r, BpeTrainer.train(TinyCorpus.TEXT, 400));
    }
}
