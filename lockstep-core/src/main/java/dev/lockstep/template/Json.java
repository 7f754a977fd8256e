package dev.lockstep.template;

import dev.lockstep.template.Py.GroupTuple;
import dev.lockstep.template.Py.Markup;
import dev.lockstep.template.Py.Tuple;
import dev.lockstep.template.Py.Undefined;
import dev.lockstep.template.TemplateException.PyError;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.lockstep.template.Py.compareCodePoints;
import static dev.lockstep.template.Py.floatRepr;
import static dev.lockstep.template.Py.typeName;

/** Python's {@code json.dumps} on template values (transformers' {@code tojson}). */
final class Json {
    private Json() {}

    /**
     * Python's {@code json.dumps(v, ensure_ascii, indent, separators, sort_keys)}, as transformers'
     * {@code tojson} filter calls it: keys in insertion order unless sorted, floats as repr, strings with
     * Python's escapes (non-ASCII kept unless ensure_ascii).
     */
    static String toJson(Object v, boolean ensureAscii, String indent, String itemSep, String keySep, boolean sortKeys, Renderer r) {
        StringBuilder b = new StringBuilder();
        json(b, v, ensureAscii, indent, itemSep, keySep, sortKeys, 0, r);
        return b.toString();
    }

    private static void json(StringBuilder b, Object v, boolean ascii, String indent, String itemSep, String keySep, boolean sort,
                             int level, Renderer r) {
        r.step();
        if (level > 1000) throw new PyError("maximum recursion depth exceeded while encoding a JSON object");
        r.checkLength(b.length());
        switch (v) {
            case null -> b.append("null");
            case Boolean x -> b.append(x ? "true" : "false");
            case Long x -> b.append(x);
            case BigInteger x -> b.append(x);
            case Double x -> b.append(Double.isNaN(x) ? "NaN" : Double.isInfinite(x) ? (x > 0 ? "Infinity" : "-Infinity") : floatRepr(x));
            case String s -> jsonString(b, s, ascii);
            case Markup m -> jsonString(b, m.s(), ascii);
            case Map<?, ?> m -> {
                if (m.isEmpty()) {
                    b.append("{}");
                    return;
                }
                List<Map.Entry<String, Object>> entries = new ArrayList<>();
                for (var e : m.entrySet()) entries.add(Map.entry(jsonKey(e.getKey()), e.getValue() == null ? NULL_VALUE : e.getValue()));
                if (sort) entries.sort((x, y) -> compareCodePoints(x.getKey(), y.getKey()));
                b.append('{');
                for (int i = 0; i < entries.size(); i++) {
                    if (i > 0) b.append(itemSep);
                    newline(b, indent, level + 1);
                    jsonString(b, entries.get(i).getKey(), ascii);
                    b.append(keySep);
                    Object x = entries.get(i).getValue();
                    json(b, x == NULL_VALUE ? null : x, ascii, indent, itemSep, keySep, sort, level + 1, r);
                }
                newline(b, indent, level);
                b.append('}');
            }
            case Tuple t -> json(b, t.items(), ascii, indent, itemSep, keySep, sort, level, r);
            case GroupTuple g -> json(b, java.util.Arrays.asList(g.grouper(), g.list()), ascii, indent, itemSep, keySep, sort, level, r);
            case List<?> l -> {
                if (l.isEmpty()) {
                    b.append("[]");
                    return;
                }
                b.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) b.append(itemSep);
                    newline(b, indent, level + 1);
                    json(b, l.get(i), ascii, indent, itemSep, keySep, sort, level + 1, r);
                }
                newline(b, indent, level);
                b.append(']');
            }
            case Undefined u -> throw new PyError("Object of type Undefined is not JSON serializable");
            default -> throw new PyError("Object of type " + typeName(v) + " is not JSON serializable");
        }
    }

    private static final Object NULL_VALUE = new Object();

    private static void newline(StringBuilder b, String indent, int level) {
        if (indent == null) return;
        b.append('\n');
        for (int i = 0; i < level; i++) b.append(indent);
    }

    private static String jsonKey(Object k) {
        return switch (k) {
            case String s -> s;
            case null -> "null";
            case Boolean x -> x ? "true" : "false";
            case Long x -> x.toString();
            case Double x -> floatRepr(x);
            default -> throw new PyError("keys must be str, int, float, bool or None, not " + typeName(k));
        };
    }

    static void jsonString(StringBuilder b, String s, boolean ascii) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20 || ascii && c > 0x7E) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        b.append('"');
    }
}
