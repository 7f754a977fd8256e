package dev.lockstep.template;

import dev.lockstep.Fixtures;
import dev.lockstep.tokenizer.ChatTemplate;
import dev.lockstep.tokenizer.ChatTemplate.Message;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The attacks of the hardening issue on chat templates: template syntax inside message text is text;
 * a template reaches no Java method, no class, no file; every render is bounded (work, output,
 * recursion, ranges), each bound a clear error naming it, reached in well under a second.
 */
class TemplateSandboxTest {
    private static final String INJECTION = "{{ 7*7 }} {% for x in range(99999999) %}{% endfor %} {% include 'x' %} {{ ''.__class__ }}";

    @Test
    void templateSyntaxInMessagesIsData() throws IOException {
        // every published template of the fixtures: the message comes out as it went in
        try (var files = Files.list(Fixtures.file("templates"))) {
            int rendered = 0;
            for (Path p : files.filter(f -> f.toString().endsWith(".jinja")).sorted().toList()) {
                ChatTemplate t = new ChatTemplate(Files.readString(p), "<s>", "</s>");
                String out;
                try {
                    out = t.render(List.of(new Message("user", INJECTION)), true);
                } catch (ChatTemplate.ChatTemplateException e) {
                    continue; // a template that refuses this conversation (e.g. needs a system message) refuses it whatever the text
                }
                assertTrue(out.contains(INJECTION) || out.contains(INJECTION.strip()), p.getFileName() + ": " + out);
                assertTrue(!out.contains("49 "), p.getFileName() + " evaluated the message");
                rendered++;
            }
            assertTrue(rendered >= 30, "most templates render a plain user message: " + rendered);
        }
    }

    @Test
    void noJavaMethodNoClassNoFile() {
        assertEquals("", render("{{ ''.__class__ }}{{ messages.__class__ }}{{ range.__globals__ }}"));
        assertRaises("{{ 'x'.repeat(5) }}", "has no attribute 'repeat'");
        assertRaises("{{ messages.getClass() }}", "has no attribute 'getClass'");
        assertRaises("{{ messages.append(1) }}", "is unsafe");
        assertRaises("{% set d = {} %}{{ d.update({'a': 1}) }}", "is unsafe");
        for (String tag : new String[]{"include 'dev/lockstep/cli/Main.class'", "import 'x' as y", "from 'x' import y", "extends 'x'",
                "block b"}) {
            TemplateException e = assertThrows(TemplateException.class, () -> Template.compile("{% " + tag + " %}"));
            assertTrue(e.getMessage().contains("is not allowed"), e.getMessage());
        }
    }

    @Test
    void everyRenderIsBounded() {
        assertLimit("{{ 'x' * 2000000000 }}", "characters");
        assertLimit("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "steps of work");
        assertLimit("{% for a in range(100000) %}{{ 'x' * 100 }}{% endfor %}", "characters");
        assertLimit("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "levels deep");
        assertLimit("{{ range(1000000000)|length }}", "range of 1000000000 items");
        assertLimit("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "characters");
        assertLimit("{{ [0] * 100000000 }}", "items");
        assertLimit("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "levels deep");
    }

    @Test
    void limitsAreChatTemplateErrorsNamingTheBound() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{% for i in range(100000) %}{{ m.content }}{% endfor %}{% endfor %}", "", "");
        var e = assertThrows(ChatTemplate.ChatTemplateException.class,
                () -> t.render(List.of(new Message("user", "x".repeat(100))), true));
        assertTrue(e.getMessage().startsWith("the chat template went past its bounds") && e.getMessage().contains("characters (the limit)"),
                e.getMessage());
    }

    private static String render(String source) {
        return Template.compile(source).render(Map.of("messages", List.of(Map.of("role", "user", "content", "hi"))));
    }

    private static void assertRaises(String source, String fragment) {
        TemplateException e = assertThrows(TemplateException.class, () -> render(source));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }

    private static void assertLimit(String source, String fragment) {
        long t0 = System.nanoTime();
        TemplateException.LimitExceeded e = assertThrows(TemplateException.LimitExceeded.class, () -> render(source));
        assertTrue(e.getMessage().contains(fragment), source + ": " + e.getMessage());
        assertTrue(System.nanoTime() - t0 < 20_000_000_000L, "stopped, not ran to the end: " + source);
    }
}
