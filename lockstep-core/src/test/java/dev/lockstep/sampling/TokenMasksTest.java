package dev.lockstep.sampling;

import dev.lockstep.TestModels;
import dev.lockstep.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenMasksTest {
    private static boolean has(long[] m, int id) {
        return (m[id >>> 6] >>> id & 1) != 0;
    }

    @Test
    void aTokenIsAllowedExactlyWhenAllItsBytesContinueTheObject() {
        String[] p = {"{", "}", "\"", "a", "\":", " ", "1", "}\n", "", "{\"a\":1}", "[", "\":1}"};
        byte[][] pieces = new byte[p.length][];
        for (int i = 0; i < p.length; i++) pieces[i] = p[i].getBytes(StandardCharsets.UTF_8);
        TokenMasks masks = new TokenMasks(new TokenTrie(pieces), JsonGrammar.OBJECT);
        long[] start = masks.allowed(JsonGrammar.START_STATE);
        for (int id = 0; id < p.length; id++)
            assertEquals(id == 0 || id == 5 || id == 9, has(start, id), "at the start: " + p[id]);
        long[] open = masks.allowed(JsonGrammar.run(JsonGrammar.START_STATE, pieces[0]));
        for (int id = 0; id < p.length; id++)
            assertEquals(id == 1 || id == 2 || id == 4 || id == 5 || id == 11, has(open, id), "after {: " + p[id]);
        long[] inKey = masks.allowed(JsonGrammar.run(JsonGrammar.START_STATE, "{\"a".getBytes(StandardCharsets.UTF_8)));
        assertTrue(has(inKey, 11) && has(inKey, 4) && has(inKey, 3) && !has(inKey, 8), "an empty piece is never allowed");
        assertFalse(TokenMasks.any(masks.allowed(JsonGrammar.run(JsonGrammar.START_STATE, pieces[9]))), "nothing after the object");
    }

    /** On a real vocabulary, the trie walk gives what trying every token one by one gives. */
    @Test
    void theTrieWalkEqualsTryingEveryTokenOnARealVocabulary() throws Exception {
        Tokenizer t = TestModels.get("models/tiny-qwen2-q8_0").tokenizer();
        byte[][] pieces = new byte[t.size()][];
        for (int id = 0; id < t.size(); id++) pieces[id] = t.piece(id, false);
        Integer[] want = java.util.stream.IntStream.range(0, pieces.length).filter(id -> pieces[id].length > 0).boxed().toArray(Integer[]::new);
        java.util.Arrays.sort(want, (a, b) -> java.util.Arrays.compareUnsigned(pieces[a], pieces[b]));
        assertEquals(java.util.Arrays.toString(want), java.util.Arrays.toString(TokenTrie.sortedByBytes(pieces)), "the trie's insertion order");
        TokenMasks masks = new TokenMasks(new TokenTrie(pieces), JsonGrammar.OBJECT);
        Random r = new Random(3);
        byte[] doc = JsonGrammarTest.STRICT.writerWithDefaultPrettyPrinter().writeValueAsBytes(JsonGrammarTest.randomObject(r, 0));
        long s = JsonGrammar.START_STATE;
        for (int i = 0; i <= doc.length; i++) {
            long[] m = masks.allowed(s);
            for (int id = 0; id < pieces.length; id++) {
                boolean ok = pieces[id].length > 0 && JsonGrammar.run(s, pieces[id]) != JsonGrammar.REJECT;
                assertEquals(ok, has(m, id), "token " + id + " after " + i + " bytes");
            }
            if (i < doc.length) s = JsonGrammar.step(s, doc[i] & 0xFF);
        }
    }
}
