package dev.lockstep.sampling;

/**
 * A byte-level recognizer of one JSON object (RFC 8259, strict: no comments, no trailing commas, no
 * NaN, strings valid UTF-8 without raw control characters), for constrained decoding ("JSON mode").
 * Its state is one {@code long}, so stepping it allocates nothing and a mask cache can key on it; a
 * byte that cannot continue any JSON object gives {@link #REJECT}.
 *
 * <p>Limits that keep a model from wandering forever inside the grammar: nesting at most
 * {@link #MAX_DEPTH} containers, and compact whitespace: at most one space between tokens, no
 * newlines or indentation. Models otherwise spend their budget on whitespace, which is valid JSON
 * (with llama.cpp's allowance of a newline and 20 indent bytes, a forced {@code {"city":"Paris"}}
 * call was measured at 144 completion tokens against 39); the value is the same either way.
 *
 * <p>Layout of the state: bits 0-5 mode, 6-10 aux (what the mode needs: the hex digits seen and what
 * they began, UTF-8 bytes still due, a literal and the position in it), 11-13 the range the next UTF-8 continuation byte
 * must fall in, 14 "this string is a key", 15-20 nesting depth, 21-26 the whitespace run (0 none, 1 one space), 32-63 the
 * container stack (bit d set: the container at depth d + 1 is an object).
 */
public final class JsonGrammar {
    private JsonGrammar() {}

    public static final long REJECT = -1L;
    public static final int MAX_DEPTH = 32;

    // modes
    private static final int START = 0, OBJ_OPEN = 1, KEY = 2, COLON = 3, VALUE = 4, ARR_OPEN = 5, AFTER = 6,
            STR = 7, ESC = 8, HEX = 9, UTF8 = 10, NUM_MINUS = 11, NUM_ZERO = 12, NUM_INT = 13, NUM_DOT = 14,
            NUM_FRAC = 15, NUM_E = 16, NUM_ESIGN = 17, NUM_EXP = 18, LIT = 19, DONE = 20,
            LOW_BACKSLASH = 21, LOW_U = 22, LOW_HEX = 23;

    // HEX's aux: digits seen (bits 0-1), "a high surrogate" (bit 3), "the first digit was D" (bit 4)
    private static final int HIGH = 8, FIRST_D = 16;

    private static final byte[][] LITERALS = {"true".getBytes(), "false".getBytes(), "null".getBytes()};

    /** Nothing read yet. */
    public static final long START_STATE = 0L;

    /** This grammar as a {@link ByteAutomaton}: any one JSON object ("JSON mode"). */
    public static final ByteAutomaton OBJECT = new ByteAutomaton() {
        @Override public long start() { return START_STATE; }
        @Override public long step(long s, int b) { return JsonGrammar.step(s, b); }
        @Override public boolean isDone(long s) { return JsonGrammar.isDone(s); }
    };

    private static int mode(long s) { return (int) (s & 63); }
    private static int aux(long s) { return (int) (s >>> 6) & 31; }
    private static int range(long s) { return (int) (s >>> 11) & 7; }
    private static boolean key(long s) { return (s >>> 14 & 1) != 0; }
    private static int depth(long s) { return (int) (s >>> 15) & 63; }
    private static int ws(long s) { return (int) (s >>> 21) & 63; }
    private static boolean topIsObject(long s) { return (s >>> (32 + depth(s) - 1) & 1) != 0; }

    /** The state with a new mode and aux; the same stack, depth and key bit; no UTF-8 range; the whitespace run reset. */
    private static long with(long s, int mode, int aux) {
        return s & ~((1L << 27) - 1) | s & (127L << 14) | mode | (long) aux << 6;
    }

    private static long withKey(long s, boolean k) {
        return k ? s | 1L << 14 : s & ~(1L << 14);
    }

    /** The whole text has been one JSON object. */
    public static boolean isDone(long s) {
        return s != REJECT && mode(s) == DONE;
    }

    /** The state after {@code text}'s bytes, or {@link #REJECT}. */
    public static long run(long s, byte[] text) {
        for (int i = 0; i < text.length && s != REJECT; i++) s = step(s, text[i] & 0xFF);
        return s;
    }

    /** The state after one more byte {@code b} (0-255), or {@link #REJECT}. */
    public static long step(long s, int b) {
        if (s == REJECT) return REJECT;
        int mode = mode(s);
        switch (mode) {
            case STR: return string(s, b);
            case ESC:
                if (b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' || b == 'r' || b == 't')
                    return with(s, STR, 0);
                return b == 'u' ? with(s, HEX, 0) : REJECT;
            case HEX: {
                // \\uXXXX; a surrogate escape must be a high one followed by an escaped low one, as
                // strict parsers (Jackson) require; a lone one is refused
                int h = hex(b);
                if (h < 0) return REJECT;
                int a = aux(s), seen = a & 3;
                if (seen == 0) return with(s, HEX, 1 | (h == 0xD ? FIRST_D : 0));
                if (seen == 1 && (a & FIRST_D) != 0) {
                    if (h >= 0xC) return REJECT; // a low surrogate without a high one before it
                    return with(s, HEX, 2 | (h >= 0x8 ? HIGH : 0));
                }
                if (seen < 3) return with(s, HEX, seen + 1 | a & HIGH);
                return (a & HIGH) != 0 ? with(s, LOW_BACKSLASH, 0) : with(s, STR, 0);
            }
            case LOW_BACKSLASH:
                return b == '\\' ? with(s, LOW_U, 0) : REJECT;
            case LOW_U:
                return b == 'u' ? with(s, LOW_HEX, 0) : REJECT;
            case LOW_HEX: {
                int h = hex(b), seen = aux(s);
                if (h < 0 || seen == 0 && h != 0xD || seen == 1 && h < 0xC) return REJECT;
                return seen == 3 ? with(s, STR, 0) : with(s, LOW_HEX, seen + 1);
            }
            case UTF8: {
                int lo = 0x80, hi = 0xBF;
                switch (range(s)) {
                    case 1 -> lo = 0xA0;
                    case 2 -> hi = 0x9F;
                    case 3 -> lo = 0x90;
                    case 4 -> hi = 0x8F;
                    default -> { }
                }
                if (b < lo || b > hi) return REJECT;
                int left = aux(s) - 1;
                return with(s, left == 0 ? STR : UTF8, left); // later continuation bytes: the full range
            }
            case LIT: {
                int lit = aux(s) >> 3, pos = aux(s) & 7;
                byte[] word = LITERALS[lit];
                if (b != word[pos]) return REJECT;
                return pos + 1 == word.length ? valueDone(s) : with(s, LIT, lit << 3 | pos + 1);
            }
            case NUM_MINUS:
                if (b == '0') return with(s, NUM_ZERO, 0);
                return b >= '1' && b <= '9' ? with(s, NUM_INT, 0) : REJECT;
            case NUM_ZERO:
                if (b == '.') return with(s, NUM_DOT, 0);
                if (b == 'e' || b == 'E') return with(s, NUM_E, 0);
                return structural(valueDone(s), b);
            case NUM_INT:
                if (b >= '0' && b <= '9') return s;
                if (b == '.') return with(s, NUM_DOT, 0);
                if (b == 'e' || b == 'E') return with(s, NUM_E, 0);
                return structural(valueDone(s), b);
            case NUM_DOT:
                return b >= '0' && b <= '9' ? with(s, NUM_FRAC, 0) : REJECT;
            case NUM_FRAC:
                if (b >= '0' && b <= '9') return s;
                if (b == 'e' || b == 'E') return with(s, NUM_E, 0);
                return structural(valueDone(s), b);
            case NUM_E:
                if (b == '+' || b == '-') return with(s, NUM_ESIGN, 0);
                return b >= '0' && b <= '9' ? with(s, NUM_EXP, 0) : REJECT;
            case NUM_ESIGN:
                return b >= '0' && b <= '9' ? with(s, NUM_EXP, 0) : REJECT;
            case NUM_EXP:
                if (b >= '0' && b <= '9') return s;
                return structural(valueDone(s), b);
            case DONE:
                return REJECT;
            default:
                return structural(s, b);
        }
    }

    private static int hex(int b) {
        if (b >= '0' && b <= '9') return b - '0';
        if (b >= 'a' && b <= 'f') return b - 'a' + 10;
        if (b >= 'A' && b <= 'F') return b - 'A' + 10;
        return -1;
    }

    /** Inside a string. */
    private static long string(long s, int b) {
        if (b == '"') return key(s) ? with(s, COLON, 0) : valueDone(s);
        if (b == '\\') return with(s, ESC, 0);
        if (b < 0x20) return REJECT;
        if (b < 0x80) return s;
        // a UTF-8 lead byte, and the range its first continuation byte must be in (no overlong forms,
        // no surrogates, nothing past U+10FFFF)
        if (b >= 0xC2 && b <= 0xDF) return with(s, UTF8, 1);
        if (b >= 0xE0 && b <= 0xEF) return with(s, UTF8, 2) | (long) (b == 0xE0 ? 1 : b == 0xED ? 2 : 0) << 11;
        if (b >= 0xF0 && b <= 0xF4) return with(s, UTF8, 3) | (long) (b == 0xF0 ? 3 : b == 0xF4 ? 4 : 0) << 11;
        return REJECT;
    }

    /** A value just ended: the document is done at depth 0, else a comma or a closer comes next. */
    private static long valueDone(long s) {
        return depth(s) == 0 ? with(s, DONE, 0) : with(s, AFTER, 0);
    }

    /** Whitespace, punctuation and the first byte of a value, in the modes between tokens. */
    private static long structural(long s, int b) {
        int mode = mode(s);
        if (b == ' ' || b == '\t' || b == '\n' || b == '\r') {
            if (b != ' ' || ws(s) != 0) return REJECT; // one space at most
            return s & ~(63L << 21) | 1L << 21;
        }
        switch (mode) {
            case START:
                return b == '{' ? open(s, true) : REJECT;
            case OBJ_OPEN:
                if (b == '}') return close(s);
                return b == '"' ? withKey(with(s, STR, 0), true) : REJECT;
            case KEY:
                return b == '"' ? withKey(with(s, STR, 0), true) : REJECT;
            case COLON:
                return b == ':' ? with(s, VALUE, 0) : REJECT;
            case ARR_OPEN:
                if (b == ']') return close(s);
                return value(s, b);
            case VALUE:
                return value(s, b);
            case AFTER:
                if (b == ',') return with(s, topIsObject(s) ? KEY : VALUE, 0);
                if (b == (topIsObject(s) ? '}' : ']')) return close(s);
                return REJECT;
            default:
                return REJECT;
        }
    }

    /** The first byte of a value. */
    private static long value(long s, int b) {
        switch (b) {
            case '{': return open(s, true);
            case '[': return open(s, false);
            case '"': return withKey(with(s, STR, 0), false);
            case '-': return with(s, NUM_MINUS, 0);
            case '0': return with(s, NUM_ZERO, 0);
            case 't': return with(s, LIT, 1);
            case 'f': return with(s, LIT, 1 << 3 | 1);
            case 'n': return with(s, LIT, 2 << 3 | 1);
            default: return b >= '1' && b <= '9' ? with(s, NUM_INT, 0) : REJECT;
        }
    }

    private static long open(long s, boolean object) {
        int d = depth(s);
        if (d == MAX_DEPTH) return REJECT;
        long stack = object ? s | 1L << (32 + d) : s & ~(1L << (32 + d));
        long t = stack & ~(63L << 15) | (long) (d + 1) << 15;
        return with(t, object ? OBJ_OPEN : ARR_OPEN, 0);
    }

    private static long close(long s) {
        int d = depth(s) - 1;
        long t = s & ~(63L << 15) | (long) d << 15;
        return valueDone(t);
    }
}
