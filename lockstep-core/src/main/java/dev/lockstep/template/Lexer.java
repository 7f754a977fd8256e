package dev.lockstep.template;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a template into tokens as Jinja2's lexer does with transformers' settings ({@code
 * trim_blocks}, {@code lstrip_blocks}): text between tags, then the tokens inside each tag.
 *
 * <p>Whitespace, exactly as Jinja2 3.1 (the text chat models were trained on depends on it):
 * <ul>
 *   <li>{@code {%-}, {@code {{-}, {@code {#-} strip all whitespace before the tag; {@code -%}},
 *       {@code -}}}, {@code -#}} all whitespace after it;</li>
 *   <li>lstrip_blocks: spaces and tabs before a block or comment tag are removed when nothing else
 *       stands between the start of the line and the tag (not before {@code {{}, not with {@code +});</li>
 *   <li>trim_blocks: the first newline after a block or comment tag is removed (not after {@code }}},
 *       not with {@code +%}}).</li>
 * </ul>
 * Inside a tag, end markers are recognized only outside brackets (Jinja2's balancing), so
 * {@code {{ {'a': 1}}}} closes where it should.
 */
final class Lexer {
    enum Type { TEXT, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, INT, FLOAT, STRING, OP, EOF }

    record Tok(Type type, String text, Object value, int line) {
        boolean is(Type t, String s) {
            return type == t && text.equals(s);
        }

        boolean isName(String s) {
            return type == Type.NAME && text.equals(s);
        }

        boolean isOp(String s) {
            return type == Type.OP && text.equals(s);
        }
    }

    private static final String[] OPS = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "(", ")", "[", "]",
            "{", "}", ",", ".", ":", "|", "=", "<", ">", ";"};

    private final String src;
    private final List<Tok> out = new ArrayList<>();
    private int pos;
    private boolean lineStarting = true; // the last token ended with a newline (or nothing came yet)

    private Lexer(String src) {
        this.src = src;
    }

    static List<Tok> tokenize(String source) {
        Lexer l = new Lexer(source);
        l.run();
        return l.out;
    }

    private int line(int at) {
        int n = 1;
        for (int i = 0; i < at && i < src.length(); i++) if (src.charAt(i) == '\n') n++;
        return n;
    }

    private void run() {
        while (pos < src.length()) {
            int tag = nextTag(pos);
            if (tag < 0) {
                text(src.substring(pos), pos);
                pos = src.length();
                break;
            }
            char kind = src.charAt(tag + 1); // '{', '%' or '#'
            char sign = tag + 2 < src.length() ? src.charAt(tag + 2) : 0;
            String text = src.substring(pos, tag);
            if (sign == '-') {
                text = rstrip(text);
            } else if (sign != '+' && kind != '{') { // lstrip_blocks
                int lpos = text.lastIndexOf('\n') + 1;
                if ((lpos > 0 || lineStarting) && lpos < text.length() && isBlank(text, lpos)) text = text.substring(0, lpos);
            }
            text(text, pos);
            int inner = tag + 2 + (sign == '-' || sign == '+' ? 1 : 0);
            if (kind == '#') comment(tag, inner);
            else if (kind == '%' && isRaw(inner)) raw(tag, inner);
            else tagTokens(tag, inner, kind);
        }
        out.add(new Tok(Type.EOF, "", null, line(src.length())));
    }

    /** The next "{{", "{%" or "{#" at or after {@code from}, or -1. */
    private int nextTag(int from) {
        for (int i = src.indexOf('{', from); i >= 0 && i + 1 < src.length(); i = src.indexOf('{', i + 1)) {
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    private void text(String t, int at) {
        if (!t.isEmpty()) out.add(new Tok(Type.TEXT, t, t, line(at)));
        if (!t.isEmpty()) lineStarting = false; // a text token never ends the "previous match" with a newline in Jinja2's sense
    }

    private void comment(int tag, int inner) {
        int end = src.indexOf("#}", inner);
        if (end < 0) throw new TemplateException(line(tag), "a comment is not closed ('#}' missing)");
        boolean minus = end > inner && src.charAt(end - 1) == '-', plus = end > inner && src.charAt(end - 1) == '+';
        pos = end + 2;
        afterTag(minus, plus, true);
    }

    /** Whitespace after a closing marker: '-' strips it all; trim_blocks removes one newline after blocks and comments. */
    private void afterTag(boolean minus, boolean plus, boolean block) {
        lineStarting = false;
        if (minus) {
            int p = pos;
            while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) pos++;
            lineStarting = pos > p && src.charAt(pos - 1) == '\n';
        } else if (block && !plus && pos < src.length() && src.charAt(pos) == '\n') {
            pos++;
            lineStarting = true;
        }
    }

    private boolean isRaw(int inner) {
        int p = skipSpace(inner);
        if (!src.startsWith("raw", p)) return false;
        p = skipSpace(p + 3);
        return src.startsWith("%}", p) || src.startsWith("-%}", p) || src.startsWith("+%}", p);
    }

    private void raw(int tag, int inner) {
        int p = skipSpace(skipSpace(inner) + 3);
        boolean minus = src.charAt(p) == '-', plus = src.charAt(p) == '+';
        pos = p + (minus || plus ? 3 : 2);
        afterTag(minus, plus, false); // Jinja2 trims no newline after {% raw %}
        int start = pos;
        // the closing {% endraw %}, with its own whitespace signs
        for (int i = src.indexOf("{%", start); i >= 0; i = src.indexOf("{%", i + 2)) {
            int q = i + 2;
            char sign = q < src.length() ? src.charAt(q) : 0;
            if (sign == '-' || sign == '+') q++;
            q = skipSpace(q);
            if (!src.startsWith("endraw", q)) continue;
            q = skipSpace(q + 6);
            boolean eMinus = src.startsWith("-%}", q), ePlus = src.startsWith("+%}", q);
            if (!eMinus && !ePlus && !src.startsWith("%}", q)) continue;
            String body = src.substring(start, i);
            if (sign == '-') body = rstrip(body);
            else if (sign != '+') {
                int lpos = body.lastIndexOf('\n') + 1;
                if (lpos < body.length() && isBlank(body, lpos)) body = body.substring(0, lpos);
            }
            text(body, start);
            pos = q + (eMinus || ePlus ? 3 : 2);
            afterTag(eMinus, ePlus, true);
            return;
        }
        throw new TemplateException(line(tag), "a raw block is not closed ('{% endraw %}' missing)");
    }

    private int skipSpace(int p) {
        while (p < src.length() && Character.isWhitespace(src.charAt(p))) p++;
        return p;
    }

    /** The tokens of a {{ }} or {% %} tag, through its closing marker. */
    private void tagTokens(int tag, int inner, char kind) {
        int line = line(tag);
        out.add(new Tok(kind == '{' ? Type.VAR_BEGIN : Type.BLOCK_BEGIN, src.substring(tag, inner), null, line));
        String close = kind == '{' ? "}}" : "%}";
        int depth = 0, p = inner;
        while (true) {
            p = skipSpace(p);
            if (p >= src.length())
                throw new TemplateException(line, "a tag is not closed ('" + close + "' missing)");
            int lineHere = line(p);
            if (depth == 0) {
                boolean minus = src.startsWith("-" + close, p), plus = src.startsWith("+" + close, p);
                if (minus || plus || src.startsWith(close, p)) {
                    pos = p + close.length() + (minus || plus ? 1 : 0);
                    out.add(new Tok(kind == '{' ? Type.VAR_END : Type.BLOCK_END, close, null, lineHere));
                    afterTag(minus, plus, kind == '%');
                    return;
                }
            }
            char c = src.charAt(p);
            if (Character.isLetter(c) || c == '_') {
                int e = p + 1;
                while (e < src.length() && (Character.isLetterOrDigit(src.charAt(e)) || src.charAt(e) == '_')) e++;
                out.add(new Tok(Type.NAME, src.substring(p, e), null, lineHere));
                p = e;
            } else if (Character.isDigit(c)) {
                p = number(p, lineHere);
            } else if (c == '\'' || c == '"') {
                p = string(p, c, lineHere);
            } else {
                String op = null;
                for (String o : OPS) if (src.startsWith(o, p)) {
                    op = o;
                    break;
                }
                if (op == null) throw new TemplateException(lineHere, "unexpected character '" + c + "'");
                if (op.equals("(") || op.equals("[") || op.equals("{")) depth++;
                if (op.equals(")") || op.equals("]") || op.equals("}")) depth = Math.max(0, depth - 1);
                out.add(new Tok(Type.OP, op, null, lineHere));
                p += op.length();
            }
        }
    }

    private int number(int p, int line) {
        int e = p;
        while (e < src.length() && (Character.isDigit(src.charAt(e)) || src.charAt(e) == '_')) e++;
        boolean isFloat = false;
        if (e + 1 < src.length() && src.charAt(e) == '.' && Character.isDigit(src.charAt(e + 1))) {
            isFloat = true;
            e++;
            while (e < src.length() && (Character.isDigit(src.charAt(e)) || src.charAt(e) == '_')) e++;
        }
        if (e < src.length() && (src.charAt(e) == 'e' || src.charAt(e) == 'E')) {
            int f = e + 1;
            if (f < src.length() && (src.charAt(f) == '+' || src.charAt(f) == '-')) f++;
            if (f < src.length() && Character.isDigit(src.charAt(f))) {
                isFloat = true;
                e = f;
                while (e < src.length() && Character.isDigit(src.charAt(e))) e++;
            }
        }
        String text = src.substring(p, e).replace("_", "");
        Object v;
        try {
            v = isFloat ? (Object) Double.parseDouble(text) : (Object) Long.parseLong(text);
        } catch (NumberFormatException ex) {
            throw new TemplateException(line, "the number " + text + " is too large");
        }
        out.add(new Tok(isFloat ? Type.FLOAT : Type.INT, text, v, line));
        return e;
    }

    /** A quoted string with Python's escapes. */
    private int string(int p, char quote, int line) {
        StringBuilder b = new StringBuilder();
        int i = p + 1;
        while (true) {
            if (i >= src.length()) throw new TemplateException(line, "a string is not closed");
            char c = src.charAt(i);
            if (c == quote) break;
            if (c == '\\' && i + 1 < src.length()) {
                char n = src.charAt(++i);
                switch (n) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case '0' -> b.append('\0');
                    case 'a' -> b.append('\u0007');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'v' -> b.append('\u000B');
                    case '\\', '\'', '"' -> b.append(n);
                    case '\n' -> { } // a line continuation
                    case 'x', 'u', 'U' -> {
                        int len = n == 'x' ? 2 : n == 'u' ? 4 : 8;
                        if (i + len >= src.length()) throw new TemplateException(line, "a \\" + n + " escape is cut short");
                        int cp = Integer.parseUnsignedInt(src.substring(i + 1, i + 1 + len), 16);
                        b.appendCodePoint(cp);
                        i += len;
                    }
                    default -> b.append('\\').append(n); // Python keeps unknown escapes as they are
                }
            } else {
                b.append(c);
            }
            i++;
        }
        out.add(new Tok(Type.STRING, src.substring(p, i + 1), b.toString(), line));
        return i + 1;
    }

    private static String rstrip(String s) {
        int e = s.length();
        while (e > 0 && Character.isWhitespace(s.charAt(e - 1))) e--;
        return s.substring(0, e);
    }

    private static boolean isBlank(String s, int from) {
        for (int i = from; i < s.length(); i++) if (!Character.isWhitespace(s.charAt(i)) || s.charAt(i) == '\n') return false;
        return true;
    }
}
