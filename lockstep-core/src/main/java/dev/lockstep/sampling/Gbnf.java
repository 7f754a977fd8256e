package dev.lockstep.sampling;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * llama.cpp's GBNF grammar language, compiled to a {@link Grammar} over bytes, so a request's
 * {@code grammar} runs on the same automaton as JSON schemas. Rules {@code name ::= alternatives};
 * string literals with escapes ({@code \n \t \r \\ \" \[ \] \xHH \\uHHHH \UHHHHHHHH}); character
 * classes {@code [a-z]}, {@code [^"\\]}; {@code .} (any character); groups; {@code * + ?} and
 * {@code {m} {m,} {m,n}}; {@code #} comments; {@code root} is the start. Characters are Unicode code
 * points, so a class becomes the UTF-8 byte sequences of its ranges. Errors name the line and column.
 */
public final class Gbnf {
    /** A grammar that does not parse, with where. */
    public static final class GbnfException extends RuntimeException {
        public GbnfException(String message) {
            super(message);
        }
    }

    /** Bounds: a grammar is request data, so its size is limited like a schema's. */
    public static final int MAX_SOURCE = 64 * 1024, MAX_REPEAT = 1000;

    private final String src;
    private final Grammar.Builder g = new Grammar.Builder();
    private final Map<String, Integer> rules = new HashMap<>();
    private final Map<String, Integer> defined = new HashMap<>();
    private final Map<String, Integer> firstUse = new HashMap<>();
    private int pos, anonymous;

    private Gbnf(String src) {
        this.src = src;
    }

    /** Compiles GBNF source; throws {@link GbnfException} naming what is wrong and where. */
    public static Grammar compile(String source) {
        if (source.length() > MAX_SOURCE) throw new GbnfException("the grammar has " + source.length() + " characters; at most " + MAX_SOURCE);
        Gbnf p = new Gbnf(source);
        p.parse();
        Integer root = p.defined.get("root");
        if (root == null) throw new GbnfException("the grammar has no root rule");
        for (Map.Entry<String, Integer> use : p.firstUse.entrySet())
            if (!p.defined.containsKey(use.getKey())) throw p.error("undefined rule '" + use.getKey() + "'", use.getValue());
        Grammar gr = p.g.build(root);
        if (!gr.producesSomething()) throw new GbnfException("the root rule derives no finite text");
        return gr;
    }

    private void parse() {
        space(true);
        while (pos < src.length()) {
            int at = pos;
            String name = name();
            if (defined.containsKey(name)) throw error("rule '" + name + "' is defined twice", at);
            space(false);
            if (!src.startsWith("::=", pos)) throw error("expected ::= after the rule name", pos);
            pos += 3;
            space(true);
            int r = rule(name);
            defined.put(name, r);
            alternatives(r, false);
            if (pos < src.length() && src.charAt(pos) != '\n' && src.charAt(pos) != '\r')
                throw error("unexpected '" + src.charAt(pos) + "'", pos);
            space(true);
        }
    }

    private int rule(String name) {
        return rules.computeIfAbsent(name, g::rule);
    }

    private void alternatives(int rule, boolean nested) {
        g.alt(rule, sequence(nested));
        while (pos < src.length() && src.charAt(pos) == '|') {
            pos++;
            space(true);
            g.alt(rule, sequence(nested));
        }
    }

    /** Elements up to a '|', a ')' or (at the top level) the end of the line. */
    private int[] sequence(boolean nested) {
        List<int[]> items = new ArrayList<>();
        while (pos < src.length()) {
            char c = src.charAt(pos);
            int[] item;
            if (c == '"') item = literal();
            else if (c == '[') item = new int[]{charClass()};
            else if (c == '.') {
                pos++;
                item = new int[]{utf8Rule(List.of(new int[]{0, 0x10FFFF}), "any")};
            } else if (c == '(') {
                pos++;
                space(true);
                int r = g.rule("group " + anonymous++);
                alternatives(r, true);
                if (pos >= src.length() || src.charAt(pos) != ')') throw error("expected ')'", pos);
                pos++;
                item = new int[]{r};
            } else if (isNameChar(c)) {
                int at = pos;
                String ref = name();
                firstUse.putIfAbsent(ref, at);
                item = new int[]{rule(ref)};
            } else break;
            space(nested);
            item = repetition(item);
            space(nested);
            items.add(item);
        }
        int n = 0;
        for (int[] i : items) n += i.length;
        int[] out = new int[n];
        int k = 0;
        for (int[] i : items) {
            System.arraycopy(i, 0, out, k, i.length);
            k += i.length;
        }
        return out;
    }

    /** A postfix operator applied to {@code item}, as rules (repetition by right recursion). */
    private int[] repetition(int[] item) {
        if (pos >= src.length()) return item;
        char c = src.charAt(pos);
        int min, max;
        if (c == '*') { min = 0; max = -1; pos++; }
        else if (c == '+') { min = 1; max = -1; pos++; }
        else if (c == '?') { min = 0; max = 1; pos++; }
        else if (c == '{') {
            int at = pos++;
            min = number();
            max = min;
            if (pos < src.length() && src.charAt(pos) == ',') {
                pos++;
                max = pos < src.length() && Character.isDigit(src.charAt(pos)) ? number() : -1;
            }
            if (pos >= src.length() || src.charAt(pos) != '}') throw error("expected '}'", pos);
            pos++;
            if (max >= 0 && max < min || min > MAX_REPEAT || max > MAX_REPEAT) throw error("bad repetition count (at most " + MAX_REPEAT + ")", at);
        } else return item;
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < min; i++) for (int e : item) out.add(e);
        if (max < 0) { // star: r ::= item r | ε
            int r = g.rule("repeat " + anonymous++);
            g.alt(r, item, r);
            g.alt(r);
            out.add(r);
        } else if (max > min) { // up to max - min more, nested optionals
            int next = -1;
            for (int k = 0; k < max - min; k++) {
                int r = g.rule("optional " + anonymous++);
                if (next < 0) g.alt(r, item);
                else g.alt(r, item, next);
                g.alt(r);
                next = r;
            }
            out.add(next);
        }
        int[] seq = new int[out.size()];
        for (int i = 0; i < seq.length; i++) seq[i] = out.get(i);
        return seq;
    }

    private int number() {
        int start = pos;
        while (pos < src.length() && Character.isDigit(src.charAt(pos)) && pos - start < 6) pos++;
        if (start == pos) throw error("expected a number", pos);
        return Integer.parseInt(src.substring(start, pos));
    }

    /** A string literal: its UTF-8 bytes. */
    private int[] literal() {
        int at = pos++;
        StringBuilder text = new StringBuilder();
        while (true) {
            if (pos >= src.length()) throw error("unterminated string", at);
            char c = src.charAt(pos);
            if (c == '"') break;
            text.appendCodePoint(c == '\\' ? escape() : nextCodePoint());
        }
        pos++;
        return g.literal(text.toString());
    }

    /** A character class: a byte set when it is ASCII only, else a rule of UTF-8 sequences. */
    private int charClass() {
        int at = pos++;
        boolean negated = pos < src.length() && src.charAt(pos) == '^';
        if (negated) pos++;
        List<int[]> ranges = new ArrayList<>();
        while (true) {
            if (pos >= src.length()) throw error("unterminated character class", at);
            if (src.charAt(pos) == ']') break;
            int lo = src.charAt(pos) == '\\' ? escape() : nextCodePoint(), hi = lo;
            if (pos + 1 < src.length() && src.charAt(pos) == '-' && src.charAt(pos + 1) != ']') {
                pos++;
                hi = src.charAt(pos) == '\\' ? escape() : nextCodePoint();
                if (hi < lo) throw error("range out of order", at);
            }
            ranges.add(new int[]{lo, hi});
        }
        pos++;
        if (negated) ranges = complement(ranges);
        boolean ascii = true;
        for (int[] r : ranges) ascii &= r[1] < 0x80;
        if (ascii) {
            long[] set = new long[4];
            for (int[] r : ranges) for (int b = r[0]; b <= r[1]; b++) set[b >>> 6] |= 1L << b;
            if (ranges.isEmpty()) throw error("the class matches nothing", at);
            return g.set(set);
        }
        return utf8Rule(ranges, "class " + anonymous++);
    }

    private static List<int[]> complement(List<int[]> ranges) {
        List<int[]> sorted = new ArrayList<>(ranges);
        sorted.sort((a, b) -> Integer.compare(a[0], b[0]));
        List<int[]> out = new ArrayList<>();
        int next = 0;
        for (int[] r : sorted) {
            if (r[0] > next) out.add(new int[]{next, r[0] - 1});
            next = Math.max(next, r[1] + 1);
        }
        if (next <= 0x10FFFF) out.add(new int[]{next, 0x10FFFF});
        return out;
    }

    /** A rule matching the UTF-8 encoding of any code point in {@code ranges} (surrogates excluded). */
    private int utf8Rule(List<int[]> ranges, String name) {
        int r = g.rule(name);
        for (int[] range : ranges) {
            for (int[] part : new int[][]{{range[0], Math.min(range[1], 0xD7FF)}, {Math.max(range[0], 0xE000), range[1]}})
                if (part[0] <= part[1]) utf8Sequences(r, part[0], part[1]);
        }
        return r;
    }

    /** Adds to {@code rule} the byte-range sequences that encode exactly the code points lo..hi (the utf8-ranges split). */
    private void utf8Sequences(int rule, int lo, int hi) {
        int[] bounds = {0x7F, 0x7FF, 0xFFFF};
        for (int b : bounds)
            if (lo <= b && hi > b) {
                utf8Sequences(rule, lo, b);
                utf8Sequences(rule, b + 1, hi);
                return;
            }
        int n = lo <= 0x7F ? 1 : lo <= 0x7FF ? 2 : lo <= 0xFFFF ? 3 : 4;
        for (int i = 1; i < n; i++) {
            int m = (1 << 6 * i) - 1;
            if ((lo & ~m) != (hi & ~m)) {
                if ((lo & m) != 0) {
                    utf8Sequences(rule, lo, lo | m);
                    utf8Sequences(rule, (lo | m) + 1, hi);
                    return;
                }
                if ((hi & m) != m) {
                    utf8Sequences(rule, lo, (hi & ~m) - 1);
                    utf8Sequences(rule, hi & ~m, hi);
                    return;
                }
            }
        }
        byte[] a = new String(Character.toChars(lo)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] z = new String(Character.toChars(hi)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int[] seq = new int[a.length];
        for (int i = 0; i < a.length; i++) seq[i] = g.bytes(a[i] & 0xFF, z[i] & 0xFF);
        g.alt(rule, seq);
    }

    private int escape() {
        int at = pos++;
        if (pos >= src.length()) throw error("unterminated escape", at);
        char c = src.charAt(pos++);
        return switch (c) {
            case 'n' -> '\n';
            case 't' -> '\t';
            case 'r' -> '\r';
            case '\\', '"', '[', ']', '-', '^', '/' -> c;
            case 'x' -> hex(2, at);
            case 'u' -> hex(4, at);
            case 'U' -> hex(8, at);
            default -> throw error("unknown escape \\" + c, at);
        };
    }

    private int hex(int digits, int at) {
        if (pos + digits > src.length()) throw error("short hex escape", at);
        int v;
        try {
            v = Integer.parseInt(src.substring(pos, pos + digits), 16);
        } catch (NumberFormatException e) {
            throw error("bad hex escape", at);
        }
        pos += digits;
        if (v > 0x10FFFF || v >= 0xD800 && v <= 0xDFFF) throw error("escape is not a Unicode scalar value", at);
        return v;
    }

    private int nextCodePoint() {
        int cp = src.codePointAt(pos);
        pos += Character.charCount(cp);
        return cp;
    }

    private String name() {
        int start = pos;
        while (pos < src.length() && isNameChar(src.charAt(pos))) pos++;
        if (start == pos) throw error("expected a rule name", pos);
        return src.substring(start, pos);
    }

    private static boolean isNameChar(char c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_';
    }

    /** Blanks and comments; newlines too when {@code newlines} (inside groups, after ::= and '|', between rules). */
    private void space(boolean newlines) {
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) pos++;
            else if (c == '#') while (pos < src.length() && src.charAt(pos) != '\n') pos++;
            else break;
        }
    }

    private GbnfException error(String what, int at) {
        int line = 1, col = 1;
        for (int i = 0; i < at && i < src.length(); i++) {
            if (src.charAt(i) == '\n') {
                line++;
                col = 1;
            } else col++;
        }
        return new GbnfException("grammar line " + line + ", column " + col + ": " + what);
    }
}
