package dev.lockstep.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lockstep.Fixtures;
import dev.lockstep.gguf.GgufFile;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** llama.cpp's tokenizer test vectors (test-tokenizer-0): every case, no BOS/EOS, no special parsing. */
class TokenizerVectorsTest {

    @ParameterizedTest
    @ValueSource(strings = {"llama-spm", "llama-bpe", "qwen2"})
    void matchesLlamaCppTestVectors(String name) throws IOException {
        String base = "vocab/ggml-vocab-" + name + ".gguf";
        String inp = Files.readString(Fixtures.file(base + ".inp"));
        List<String> outLines = Files.readAllLines(Fixtures.file(base + ".out"));
        String[] cases = inp.split("\n__ggml_vocab_test__\n", -1);
        List<String> texts = new ArrayList<>(Arrays.asList(cases));
        // the file ends with the separator line, leaving an empty tail
        if (texts.getLast().isEmpty() || texts.getLast().equals("\n")) texts.removeLast();
        assertEquals(46, texts.size(), "test cases in " + base);
        assertEquals(texts.size(), outLines.size(), "expected outputs in " + base);
        try (GgufFile f = GgufFile.open(Fixtures.file(base))) {
            Tokenizer tok = Tokenizer.fromGguf(f);
            List<String> failures = new ArrayList<>();
            for (int i = 0; i < texts.size(); i++) {
                String line = outLines.get(i).trim();
                int[] expected = line.isEmpty() ? new int[0] : Arrays.stream(line.split("\\s+")).mapToInt(Integer::parseInt).toArray();
                int[] got = tok.encode(texts.get(i), false, false);
                if (!Arrays.equals(expected, got))
                    failures.add("case " + i + " " + show(texts.get(i)) + "\n  expected " + Arrays.toString(expected)
                            + "\n  got      " + Arrays.toString(got));
            }
            assertTrue(failures.isEmpty(), failures.size() + " of " + texts.size() + " cases differ:\n" + String.join("\n", failures));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-spm", "llama-bpe", "qwen2"})
    void matchesReferencePromptsWithSpecialTokensAndDecodes(String name) {
        try (GgufFile f = GgufFile.open(Fixtures.file("vocab/ggml-vocab-" + name + ".gguf"))) {
            Tokenizer tok = Tokenizer.fromGguf(f);
            for (String p : new String[]{"p1", "p2"}) {
                JsonNode ref = Fixtures.json("reference/tok-" + name + "." + p + ".json");
                String prompt = ref.get("prompt").asText();
                assertEquals(ref.get("add_bos").asBoolean(), tok.addsBos(), "add_bos");
                assertEquals(ref.get("bos_id").asInt(), tok.bos(), "bos id");
                assertArrayEquals(Fixtures.ints(ref.get("tokens_add_special")), tok.encode(prompt, true, false));
                int[] plain = Fixtures.ints(ref.get("tokens_no_special"));
                assertArrayEquals(plain, tok.encode(prompt, false, false));
                JsonNode pieces = ref.get("pieces_add_special_hex");
                int[] withSpecial = tok.encode(prompt, true, false);
                for (int i = 0; i < withSpecial.length; i++)
                    assertEquals(pieces.get(i).asText(), java.util.HexFormat.of().formatHex(tok.piece(withSpecial[i], true)),
                            "piece of token " + withSpecial[i]);
                String decoded = tok.decode(plain);
                // SentencePiece pieces carry the prefix space; llama.cpp's detokenizer strips it
                if (decoded.startsWith(" ") && name.equals("llama-spm")) decoded = decoded.substring(1);
                assertEquals(ref.get("detokenized_no_special").asText(), decoded);
            }
        }
    }

    private static String show(String s) {
        return "'" + s.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + "'";
    }
}
