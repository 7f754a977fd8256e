package dev.lockstep.sampling;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GBNF as llama.cpp writes it (rules, literals and escapes, classes with ranges and negation over
 * Unicode, {@code .}, groups, repetition operators and counts, comments), compiled to the byte
 * automaton: what it accepts, where it may end, and errors that say where.
 */
class GbnfTest {
    /** llama.cpp's arithmetic example, in our own words: the same constructs. */
    static final String ARITHMETIC = """
            # one or more equations, each on its line
            root  ::= (expr "=" ws term "\\n")+
            expr  ::= term ([-+*/] term)*
            term  ::= ident | num | "(" ws expr ")" ws
            ident ::= [a-z] [a-z0-9_]* ws
            num   ::= [0-9]+ ws
            ws    ::= [ \\t]*
            """;

    static final String JSONISH = """
            root   ::= object
            object ::=
              "{" ws (
                string ":" ws value
                ("," ws string ":" ws value)*
              )? "}"
            value  ::= object | string | [0-9]{1,3} | ("true" | "false" | "null")
            string ::= "\\"" ( [^"\\\\\\x00-\\x1f] | "\\\\" ["\\\\nt] )* "\\""
            ws     ::= " "?
            """;

    private static long run(GrammarAutomaton a, String text) {
        long s = a.start();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) if (s != ByteAutomaton.REJECT) s = a.step(s, b & 0xFF);
        return s;
    }

    private static boolean accepts(String grammar, String text) {
        GrammarAutomaton a = new GrammarAutomaton(Gbnf.compile(grammar));
        long s = run(a, text);
        return s != ByteAutomaton.REJECT && a.canEnd(s);
    }

    @Test
    void acceptsWhatTheGrammarDescribes() {
        assertTrue(accepts(ARITHMETIC, "(x +12)*y=3\n"));
        assertTrue(accepts(ARITHMETIC, "a=b\nc_1=2\n"));
        assertFalse(accepts(ARITHMETIC, "a=\n"));
        assertFalse(accepts(ARITHMETIC, "a=b"), "the newline is due");
        assertTrue(accepts(JSONISH, "{\"k\": \"v\\n\u00e9\u6f22\", \"n\": 123, \"o\": {\"t\": true}}"));
        assertFalse(accepts(JSONISH, "{\"n\": 1234}"), "{1,3} digits");
        assertFalse(accepts(JSONISH, "{\"k\": \"a\u0001\"}"), "control characters excluded from the class");
    }

    @Test
    void classesAndDotAreUnicodeCodePoints() {
        String g = "root ::= [^a-z] [\u00e0-\u00ff\u4e00-\u9fff]+ . [\\u0100-\\U0001F600]";
        assertTrue(accepts(g, "A\u00e9\u6f22x\u0101"));
        assertTrue(accepts(g, "!\u00e0\u00ff\ud83d\ude00\ud83d\ude00"));
        assertFalse(accepts(g, "a\u00e9x\u0101"), "negated class");
        assertFalse(accepts(g, "A\u00dfx\u0101"), "\u00df is below \u00e0");
        assertFalse(accepts(g, "A\u00e9x\ud83d\ude01"), "past U+1F600");
        // every byte sequence the class takes is valid UTF-8 of a code point in it
        GrammarAutomaton a = new GrammarAutomaton(Gbnf.compile("root ::= [^\\x00-\\x7f]"));
        for (int cp = 0x80; cp <= 0x10FFFF; cp += 977) {
            if (cp >= 0xD800 && cp <= 0xDFFF) continue;
            long s = run(a, new String(Character.toChars(cp)));
            assertTrue(s != ByteAutomaton.REJECT && a.canEnd(s), Integer.toHexString(cp));
        }
        assertEquals(ByteAutomaton.REJECT, a.step(a.start(), 0xC0), "an overlong lead byte");
        assertEquals(ByteAutomaton.REJECT, a.step(a.step(a.start(), 0xED), 0xA0), "no surrogates (ED A0 starts U+D800)");
    }

    @Test
    void mayEndWhereMoreCouldFollow() {
        GrammarAutomaton a = new GrammarAutomaton(Gbnf.compile("root ::= [a-z]+ (\" \" [0-9]{2,3})?"));
        long s = run(a, "abc");
        assertTrue(a.canEnd(s) && !a.isDone(s), "may end, may go on");
        s = run(a, "abc 12");
        assertTrue(a.canEnd(s) && !a.isDone(s));
        s = run(a, "abc 123");
        assertTrue(a.isDone(s), "three digits: nothing may follow");
        assertFalse(a.canEnd(run(a, "abc 1")));
    }

    @Test
    void errorsSayWhere() {
        for (String[] bad : new String[][]{{"root ::= foo", "undefined rule 'foo'"}, {"rot ::= \"a\"", "no root rule"},
                {"root ::= \"a", "unterminated string"}, {"root ::= [a-", "unterminated character class"},
                {"root ::= \"a\"\nroot ::= \"b\"", "line 2, column 1: rule 'root' is defined twice"}, {"root ::= (\"a\"", "expected ')'"},
                {"root ::= \"a\"{2,1}", "bad repetition count"}, {"root := \"a\"", "expected ::="}, {"root ::= \"\\q\"", "unknown escape"},
                {"root ::= root", "derives no finite text"}}) {
            Gbnf.GbnfException e = assertThrows(Gbnf.GbnfException.class, () -> Gbnf.compile(bad[0]), bad[0]);
            assertTrue(e.getMessage().contains(bad[1]), e.getMessage());
        }
    }
}
