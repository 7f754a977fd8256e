package dev.lockstep.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Lockstep's renderer against Jinja2 3.1.6 itself, configured as transformers configures it (the
 * corpora are written by {@code tools/template-oracle/oracle.py}; see DEVELOPERS.md):
 * <ul>
 *   <li>feature snippets of our own, each rendered as Jinja2 renders it, or failing where it fails;</li>
 *   <li>random conversations (Unicode, quotes, template syntax in messages, tool calls with nested
 *       arguments, content parts, reasoning) through every chat template of the fixtures: each render
 *       has the SHA-256 of Jinja2's, or fails where Jinja2's did.</li>
 * </ul>
 */
class TemplateOracleTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final LocalDateTime FIXED_NOW = LocalDateTime.of(2026, 1, 15, 12, 0);

    @Test
    void featureSnippetsRenderAsJinja2RendersThem() throws IOException {
        JsonNode cases = JSON.readTree(resource("snippets.json"));
        List<String> wrong = new ArrayList<>();
        for (JsonNode c : cases) {
            String got = render(c.get("template").asText(), c.get("vars"));
            JsonNode want = c.get("output");
            boolean ok = want.isNull() ? got == null : want.asText().equals(got);
            if (!ok) wrong.add(c.get("template").asText().replace("\n", "\\n") + "\n  want: "
                    + (want.isNull() ? "an error (" + c.get("error").asText() + ")" : want.asText().replace("\n", "\\n"))
                    + "\n  got:  " + (got == null ? "an error" : got.replace("\n", "\\n")));
        }
        if (!wrong.isEmpty()) fail(wrong.size() + " of " + cases.size() + " snippets differ:\n" + String.join("\n", wrong));
        assertEquals(61, cases.size());
    }

    @Test
    void randomConversationsThroughEveryFixtureTemplateRenderAsJinja2RendersThem() throws IOException {
        JsonNode cases;
        try (InputStream in = new GZIPInputStream(resource("conversations.json.gz"))) {
            cases = JSON.readTree(in);
        }
        Map<String, Template> compiled = new HashMap<>();
        List<String> wrong = new ArrayList<>();
        int rendered = 0, raised = 0;
        for (int i = 0; i < cases.size(); i++) {
            JsonNode c = cases.get(i);
            String name = c.get("template").asText();
            Template t = compiled.computeIfAbsent(name, n -> template(read("templates/" + n + ".jinja")));
            String got = render(t, c.get("vars"));
            if (c.has("sha256")) {
                if (got != null && c.get("sha256").asText().equals(sha256(got))) rendered++;
                else wrong.add("case " + i + " (" + name + "): " + (got == null ? "raised" : "renders differently") + "; vars "
                        + c.get("vars"));
            } else {
                if (got == null) raised++;
                else wrong.add("case " + i + " (" + name + "): rendered where Jinja2 raised " + c.get("error").asText());
            }
        }
        if (!wrong.isEmpty()) fail(wrong.size() + " of " + cases.size() + " conversations differ:\n" + String.join("\n",
                wrong.subList(0, Math.min(10, wrong.size()))));
        assertEquals(cases.size(), rendered + raised);
    }

    /** The render, or null where it fails (as Jinja2 fails: a template error of any kind). */
    private static String render(String source, JsonNode vars) {
        try {
            return render(template(source), vars);
        } catch (TemplateException e) {
            return null;
        }
    }

    private static String render(Template t, JsonNode vars) {
        if (t == null) return null; // did not compile
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> v = JSON.convertValue(vars, Map.class);
            return t.render(v);
        } catch (TemplateException e) {
            return null;
        }
    }

    /** Compiled with transformers' functions, or null if it does not compile. */
    private static Template template(String source) {
        try {
            return Template.compile(source)
                    .withFunction("raise_exception", (args, kw) -> {
                        throw new TemplateException.Raised(0, String.valueOf(args.getFirst()));
                    })
                    .withFunction("strftime_now", (args, kw) -> Strftime.format(String.valueOf(args.getFirst()), FIXED_NOW));
        } catch (TemplateException e) {
            return null;
        }
    }

    private static InputStream resource(String name) {
        InputStream in = TemplateOracleTest.class.getResourceAsStream("/template-oracle/" + name);
        assertNotNull(in, "test resource template-oracle/" + name + " missing");
        return in;
    }

    private static String read(String fixture) {
        try {
            return Files.readString(Fixtures.file(fixture));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
