package dev.lockstep.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The 44 published chat templates of the fixtures, five conversations each, against the text Hugging
 * Face transformers renders for them (README section 7): the 192 renders byte for byte, and an error
 * wherever transformers' renderer raised.
 *
 * <p>One difference on purpose: the fixture renders were made without transformers' AssistantTracker
 * extension, so the four templates with {@code {% generation %}} tags (LFM2.5, Laguna) raised there
 * ("unknown tag 'generation'"). transformers itself registers that extension, and so does Lockstep:
 * 19 of those 20 conversations render (the tag marks assistant text for training masks and prints
 * its body); LFM2.5's tool-result conversation raises with the extension too (Jinja2 3.1.6 with
 * transformers' environment: "'NoneType' object is not iterable", the assistant turn's null content).
 */
class ChatTemplateFixturesTest {
    private static final Set<String> GENERATION_TAG = Set.of("LFM2.5-8B-A1B", "poolside-Laguna-S-2.1", "poolside-Laguna-XS-2.1",
            "poolside-Laguna-XS.2");
    /** Raises in transformers' environment too (see the class comment). */
    private static final Set<String> RAISES_WITH_EXTENSION = Set.of("LFM2.5-8B-A1B/tool_result");

    @Test
    void everyFixtureConversationRendersAsTransformersRendersIt() throws IOException {
        JsonNode fixture = Fixtures.json("templates/expected-renders.json");
        LocalDateTime now = LocalDateTime.parse(fixture.get("strftime_now").asText());
        String bos = fixture.get("bos_token").asText(), eos = fixture.get("eos_token").asText();
        int same = 0, raised = 0, generation = 0;
        List<String> wrong = new ArrayList<>();
        for (Iterator<String> it = fixture.get("renders").fieldNames(); it.hasNext(); ) {
            String name = it.next();
            String source = Files.readString(Fixtures.file("templates/" + name + ".jinja"));
            ChatTemplate t = new ChatTemplate(source, bos, eos).withClock(() -> now);
            for (Iterator<Map.Entry<String, JsonNode>> cs = fixture.get("renders").get(name).fields(); cs.hasNext(); ) {
                Map.Entry<String, JsonNode> c = cs.next();
                JsonNode conv = fixture.get("conversations").get(c.getKey());
                String got;
                try {
                    got = t.render(messages(conv.get("messages")), true, tools(conv.get("tools")));
                } catch (ChatTemplate.ChatTemplateException e) {
                    got = null;
                }
                JsonNode want = c.getValue();
                if (want.isNull() && GENERATION_TAG.contains(name) && !RAISES_WITH_EXTENSION.contains(name + "/" + c.getKey())) {
                    if (got == null) wrong.add(name + "/" + c.getKey() + ": the {% generation %} template did not render");
                    else generation++;
                } else if (want.isNull()) {
                    if (got == null) raised++;
                    else wrong.add(name + "/" + c.getKey() + ": rendered where transformers raised");
                } else if (want.asText().equals(got)) {
                    same++;
                } else {
                    wrong.add(name + "/" + c.getKey() + ": " + (got == null ? "raised" : "differs at character " + firstDifference(want.asText(), got)));
                }
            }
        }
        if (!wrong.isEmpty()) fail(wrong.size() + " conversations differ:\n" + String.join("\n", wrong));
        assertEquals(192, same, "renders equal byte for byte");
        assertEquals(9, raised, "errors where transformers raised");
        assertEquals(19, generation, "generation-tag templates rendered");
        assertTrue(same + raised + generation == 220);
    }

    private static int firstDifference(String a, String b) {
        int i = 0;
        while (i < a.length() && i < b.length() && a.charAt(i) == b.charAt(i)) i++;
        return i;
    }

    static List<ChatTemplate.Message> messages(JsonNode ms) {
        ObjectMapper json = new ObjectMapper();
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (JsonNode m : ms) {
            Map<String, Object> extra = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> f = m.fields(); f.hasNext(); ) {
                Map.Entry<String, JsonNode> e = f.next();
                if (!e.getKey().equals("role") && !e.getKey().equals("content")) extra.put(e.getKey(), json.convertValue(e.getValue(), Object.class));
            }
            JsonNode content = m.get("content");
            out.add(new ChatTemplate.Message(m.get("role").asText(), content == null || content.isNull() ? null : content.asText(), extra));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> tools(JsonNode t) {
        return t == null ? null : new ObjectMapper().convertValue(t, List.class);
    }
}
