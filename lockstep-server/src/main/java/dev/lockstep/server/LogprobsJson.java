package dev.lockstep.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.sampling.Logprobs;
import dev.lockstep.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Logprobs in the two OpenAI shapes. Values are written as the engine's float32 (Jackson prints the
 * shortest decimal that reads back to the same float), so clients get the exact bits.
 */
final class LogprobsJson {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private LogprobsJson() {}

    static byte[] bytes(Tokenizer tok, int id) {
        return tok.piece(id, true);
    }

    static String text(Tokenizer tok, int id) {
        return new String(bytes(tok, id), StandardCharsets.UTF_8);
    }

    /** Chat: {@code {"token", "logprob", "bytes", "top_logprobs": [...]}}. */
    static ObjectNode chatEntry(Tokenizer tok, Logprobs.Entry e) {
        ObjectNode o = chatToken(tok, e.token(), e.logprob());
        ArrayNode top = o.putArray("top_logprobs");
        for (Logprobs.TokenLogprob t : e.top()) top.add(chatToken(tok, t.token(), t.logprob()));
        return o;
    }

    private static ObjectNode chatToken(Tokenizer tok, int id, float logprob) {
        ObjectNode o = F.objectNode();
        o.put("token", text(tok, id));
        o.put("logprob", logprob);
        ArrayNode b = o.putArray("bytes");
        for (byte x : bytes(tok, id)) b.add(x & 0xFF);
        return o;
    }

    /**
     * Text completions: parallel lists {@code tokens, token_logprobs, top_logprobs, text_offset}.
     * {@code first} is an optional leading token without a logprob (the first echoed prompt token).
     */
    static final class Legacy {
        final ArrayNode tokens = F.arrayNode(), tokenLogprobs = F.arrayNode(), topLogprobs = F.arrayNode(),
                textOffset = F.arrayNode();
        private final Tokenizer tok;
        private int offset;

        Legacy(Tokenizer tok, int startOffset) {
            this.tok = tok;
            this.offset = startOffset;
        }

        void addUnscored(int id) {
            String s = text(tok, id);
            tokens.add(s);
            tokenLogprobs.addNull();
            topLogprobs.addNull();
            textOffset.add(offset);
            offset += s.length();
        }

        void add(Logprobs.Entry e) {
            String s = text(tok, e.token());
            tokens.add(s);
            tokenLogprobs.add(e.logprob());
            ObjectNode top = F.objectNode();
            for (Logprobs.TokenLogprob t : e.top()) {
                String k = text(tok, t.token());
                if (!top.has(k)) top.put(k, t.logprob());
            }
            topLogprobs.add(top);
            textOffset.add(offset);
            offset += s.length();
        }

        void addAll(List<Logprobs.Entry> es) {
            for (Logprobs.Entry e : es) add(e);
        }

        ObjectNode toJson() {
            ObjectNode o = F.objectNode();
            o.set("tokens", tokens);
            o.set("token_logprobs", tokenLogprobs);
            o.set("top_logprobs", topLogprobs);
            o.set("text_offset", textOffset);
            return o;
        }
    }
}
