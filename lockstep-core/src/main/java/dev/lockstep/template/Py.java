package dev.lockstep.template;

import dev.lockstep.template.TemplateException.PyError;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Python's value semantics, as Jinja2 templates see them, on plain Java values: {@code null} is None,
 * {@link Boolean}, {@link Long} (int), {@link Double} (float), {@link String} (indexed by code point,
 * as Python's str), {@link List} (list), {@link Tuple}, {@link Map} (dict, insertion ordered), plus
 * Jinja's {@link Undefined} and {@link Namespace}. Every value a request brings (message contents,
 * tool definitions) is one of these: data, never template source, never a Java object with methods.
 */
final class Py {
    private Py() {}

    /** Jinja2's Undefined: prints as nothing, is false and iterates as empty; other uses fail naming {@link #hint}. */
    static final class Undefined {
        final String hint;
        /** Non-null for an attribute the immutable sandbox refuses (e.g. list.append): any use fails with this. */
        final String unsafe;

        Undefined(String hint) {
            this(hint, null);
        }

        Undefined(String hint, String unsafe) {
            this.hint = hint;
            this.unsafe = unsafe;
        }

        PyError fail() {
            return new PyError(unsafe != null ? unsafe : hint);
        }
    }

    static final Undefined UNDEFINED = new Undefined("a value is undefined");

    /** A tuple (read-only; prints with parentheses). */
    record Tuple(List<Object> items) {
        Tuple {
            items = java.util.Collections.unmodifiableList(new ArrayList<>(items)); // (List.copyOf refuses None)
        }

        static Tuple of(Object... xs) {
            return new Tuple(java.util.Arrays.asList(xs));
        }
    }

    /**
     * Jinja2's Markup (what {@code |safe} and {@code |e} give): a str that, when a plain str is added to it
     * with {@code +} (either side) or formatted into it with {@code %}, HTML-escapes that str. A template
     * written as {@code "..."|safe + json} therefore prints {@code &#34;} for every quote of the JSON,
     * exactly as transformers renders it.
     */
    record Markup(String s) {}

    /**
     * A one-pass iterator, what Jinja2's select, reject, selectattr, rejectattr, map, unique, items,
     * batch and reverse return: iterating it consumes it; it has no length and is no JSON.
     */
    static final class Gen {
        final String kind;
        private List<Object> items;

        Gen(String kind, List<Object> items) {
            this.kind = kind;
            this.items = items;
        }

        List<Object> consume() {
            List<Object> out = items;
            items = new ArrayList<>();
            return out;
        }
    }

    /** What Jinja2's groupby gives: a named tuple (grouper, list). */
    record GroupTuple(Object grouper, List<Object> list) {}

    /** A dict's items(), keys() or values(): iterable again and again, with a length, but no list (no index, no JSON). */
    record View(String kind, List<Object> items) {}

    /** The text of a str or Markup, else null. */
    static String asString(Object v) {
        return v instanceof String s ? s : v instanceof Markup m ? m.s() : null;
    }

    /** Jinja2's escape: & < > " ' as HTML entities. */
    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&#34;").replace("'", "&#39;");
    }

    /** Jinja2's {@code namespace()}: the one mutable object a template may have (its attributes, by {@code set ns.x}). */
    static final class Namespace {
        final Map<String, Object> attrs = new LinkedHashMap<>();
    }

    /** Something a template can call: a global, a macro, a bound method. */
    interface Callable {
        Object call(Renderer r, List<Object> args, Map<String, Object> kwargs);
    }

    /** A method of a value ({@code s.strip}), looked up but not yet called. */
    record BoundMethod(Object self, String name) implements Callable {
        @Override
        public Object call(Renderer r, List<Object> args, Map<String, Object> kwargs) {
            return Methods.callMethod(r, self, name, args, kwargs);
        }
    }

    // ------------------------------------------------------------------ conversion of request data

    /** Request data (Jackson conversions give Integers, BigDecimals, arrays) as the values above. */
    static Object fromJava(Object v) {
        return switch (v) {
            case null -> null;
            case String s -> s;
            case Boolean b -> b;
            case Long l -> l;
            case Integer n -> n.longValue();
            case Short n -> n.longValue();
            case Byte n -> n.longValue();
            case BigInteger b -> b.bitLength() < 64 ? (Object) b.longValue() : b;
            case Double d -> d;
            case Float f -> Double.parseDouble(f.toString());
            case BigDecimal b -> b.doubleValue();
            case Map<?, ?> m -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                m.forEach((k, x) -> out.put(fromJava(k), fromJava(x)));
                yield out;
            }
            case Collection<?> c -> {
                List<Object> out = new ArrayList<>(c.size());
                for (Object x : c) out.add(fromJava(x));
                yield out;
            }
            case Object[] a -> fromJava(java.util.Arrays.asList(a));
            case Undefined u -> u;
            case Tuple t -> t;
            case Namespace n -> n;
            case Callable c -> c;
            case Markup m -> m;
            case GroupTuple g -> g;
            case Gen g -> g;
            case View w -> w;
            default -> throw new IllegalArgumentException("a " + v.getClass().getSimpleName() + " is not template data");
        };
    }

    // ------------------------------------------------------------------ types and truth

    static String typeName(Object v) {
        return switch (v) {
            case null -> "NoneType";
            case Boolean b -> "bool";
            case Long l -> "int";
            case BigInteger b -> "int";
            case Double d -> "float";
            case String s -> "str";
            case Markup m -> "Markup";
            case GroupTuple g -> "_GroupTuple";
            case Gen g -> g.kind;
            case View w -> w.kind();
            case Tuple t -> "tuple";
            case List<?> l -> "list";
            case Map<?, ?> m -> "dict";
            case Undefined u -> "Undefined";
            case Namespace n -> "Namespace";
            case Loop l -> "LoopContext";
            case Callable c -> "function";
            default -> v.getClass().getSimpleName();
        };
    }

    static boolean truthy(Object v) {
        return switch (v) {
            case null -> false;
            case Boolean b -> b;
            case Long l -> l != 0;
            case BigInteger b -> b.signum() != 0;
            case Double d -> d != 0.0;
            case String s -> !s.isEmpty();
            case Markup m -> !m.s().isEmpty();
            case View w -> !w.items().isEmpty();
            case Tuple t -> !t.items().isEmpty();
            case List<?> l -> !l.isEmpty();
            case Map<?, ?> m -> !m.isEmpty();
            case Undefined u -> {
                if (u.unsafe != null) throw u.fail();
                yield false;
            }
            default -> true;
        };
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean || v instanceof BigInteger;
    }

    static boolean isInt(Object v) {
        return v instanceof Long || v instanceof Boolean || v instanceof BigInteger;
    }

    static long asLong(Object v) {
        return switch (v) {
            case Long l -> l;
            case Boolean b -> b ? 1 : 0;
            case BigInteger b -> b.longValueExact();
            default -> throw new PyError("'" + typeName(v) + "' object cannot be interpreted as an integer");
        };
    }

    static double asDouble(Object v) {
        return switch (v) {
            case Long l -> l;
            case Double d -> d;
            case Boolean b -> b ? 1 : 0;
            case BigInteger b -> b.doubleValue();
            default -> throw new PyError("must be real number, not " + typeName(v));
        };
    }

    // ------------------------------------------------------------------ str and repr

    /** Python's {@code str(v)}, which is what {@code {{ v }}} prints (Undefined prints nothing). */
    static String str(Object v) {
        return switch (v) {
            case null -> "None";
            case String s -> s;
            case Markup m -> m.s();
            case Boolean b -> b ? "True" : "False";
            case Long l -> l.toString();
            case BigInteger b -> b.toString();
            case Double d -> floatRepr(d);
            case Undefined u -> {
                if (u.unsafe != null) throw u.fail();
                yield "";
            }
            default -> repr(v);
        };
    }

    static String repr(Object v) {
        return switch (v) {
            case null -> "None";
            case String s -> reprString(s);
            case Boolean b -> b ? "True" : "False";
            case Long l -> l.toString();
            case BigInteger b -> b.toString();
            case Double d -> floatRepr(d);
            case Tuple t -> {
                StringBuilder b = new StringBuilder("(");
                for (int i = 0; i < t.items().size(); i++) b.append(i > 0 ? ", " : "").append(repr(t.items().get(i)));
                yield b.append(t.items().size() == 1 ? ",)" : ")").toString();
            }
            case List<?> l -> {
                StringBuilder b = new StringBuilder("[");
                for (int i = 0; i < l.size(); i++) b.append(i > 0 ? ", " : "").append(repr(l.get(i)));
                yield b.append("]").toString();
            }
            case Map<?, ?> m -> {
                StringBuilder b = new StringBuilder("{");
                boolean first = true;
                for (var e : m.entrySet()) {
                    b.append(first ? "" : ", ").append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
                    first = false;
                }
                yield b.append("}").toString();
            }
            case Undefined u -> "Undefined";
            case Markup m -> "Markup(" + reprString(m.s()) + ")";
            case GroupTuple g -> "(" + repr(g.grouper()) + ", " + repr(g.list()) + ")"; // prints as the tuple it is
            case Gen g -> "<" + g.kind + " object>";
            case View w -> w.kind() + "(" + repr(w.items()) + ")";
            case Namespace n -> "<Namespace " + repr(n.attrs) + ">";
            case Loop l -> "<LoopContext " + (l.index0 + 1) + "/" + l.length() + ">";
            default -> "<" + typeName(v) + ">";
        };
    }

    /** Python's repr of a float: the shortest digits that read back, positional from 1e-4 up to 1e16. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d) < 0 ? "-0.0" : "0.0";
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int decpt = digits.length() - bd.scale(); // the decimal point sits after this many digits
        StringBuilder b = new StringBuilder(d < 0 ? "-" : "");
        if (decpt > -4 && decpt <= 16) {
            if (decpt <= 0) b.append("0.").append("0".repeat(-decpt)).append(digits);
            else if (decpt >= digits.length()) b.append(digits).append("0".repeat(decpt - digits.length())).append(".0");
            else b.append(digits, 0, decpt).append('.').append(digits.substring(decpt));
        } else {
            b.append(digits.charAt(0));
            if (digits.length() > 1) b.append('.').append(digits.substring(1));
            int exp = decpt - 1;
            b.append('e').append(exp < 0 ? '-' : '+');
            if (Math.abs(exp) < 10) b.append('0');
            b.append(Math.abs(exp));
        }
        return b.toString();
    }

    /** Python's repr of a str: single quotes unless the text has one and no double quote; unprintables escaped. */
    static String reprString(String s) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder b = new StringBuilder(s.length() + 2).append(q);
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            if (c == q || c == '\\') b.append('\\').append((char) c);
            else if (c == '\t') b.append("\\t");
            else if (c == '\n') b.append("\\n");
            else if (c == '\r') b.append("\\r");
            else if (c < 0x20 || c == 0x7F) b.append(String.format("\\x%02x", c));
            else if (c < 0x7F || isPrintable(c)) b.appendCodePoint(c);
            else if (c <= 0xFF) b.append(String.format("\\x%02x", c));
            else if (c <= 0xFFFF) b.append(String.format("\\u%04x", c));
            else b.append(String.format("\\U%08x", c));
        }
        return b.append(q).toString();
    }

    /** Python's str.isprintable for one code point: not a control, format, surrogate, private, unassigned or separator (but space). */
    static boolean isPrintable(int c) {
        if (c == ' ') return true;
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED,
                 Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.SPACE_SEPARATOR -> false;
            default -> true;
        };
    }

    // ------------------------------------------------------------------ comparison

    static boolean eq(Object a, Object b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) return asDouble(a) == asDouble(b);
            if (a instanceof BigInteger || b instanceof BigInteger) return bigint(a).equals(bigint(b));
            return asLong(a) == asLong(b);
        }
        if (asString(a) != null && asString(b) != null) return asString(a).equals(asString(b));
        if (a instanceof Tuple s && b instanceof Tuple t) return listEq(s.items(), t.items());
        if (a instanceof Tuple || b instanceof Tuple) return false;
        if (a instanceof List<?> s && b instanceof List<?> t) return listEq(s, t);
        if (a instanceof Map<?, ?> s && b instanceof Map<?, ?> t) {
            if (s.size() != t.size()) return false;
            for (var e : s.entrySet()) {
                Object k = findKey(t, e.getKey());
                if (k == MISSING || !eq(e.getValue(), t.get(k))) return false;
            }
            return true;
        }
        if (a instanceof Undefined && b instanceof Undefined) return true;
        return false;
    }

    private static BigInteger bigint(Object v) {
        return v instanceof BigInteger b ? b : BigInteger.valueOf(asLong(v));
    }

    private static boolean listEq(List<?> a, List<?> b) {
        if (a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) if (!eq(a.get(i), b.get(i))) return false;
        return true;
    }

    static final Object MISSING = new Object();

    /** The key of {@code m} equal to {@code key} in Python's sense (1 == 1.0 == True), or {@link #MISSING}. */
    static Object findKey(Map<?, ?> m, Object key) {
        if (m.containsKey(key)) return key;
        if (key == null || key instanceof String) return MISSING;
        for (Object k : m.keySet()) if (eq(k, key)) return k;
        return MISSING;
    }

    /** Python's ordering (<, > ...): numbers, strings by code point, lists and tuples element by element. */
    static int compare(Object a, Object b, String op) {
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) {
                double x = asDouble(a), y = asDouble(b);
                return x < y ? -1 : x > y ? 1 : 0; // -0.0 and 0.0 are equal, as in Python
            }
            return bigint(a).compareTo(bigint(b));
        }
        if (asString(a) != null && asString(b) != null) return compareCodePoints(asString(a), asString(b));
        if ((a instanceof List<?> || a instanceof Tuple) && (b instanceof List<?> || b instanceof Tuple)
                && (a instanceof Tuple) == (b instanceof Tuple)) {
            List<?> s = items(a), t = items(b);
            for (int i = 0; i < Math.min(s.size(), t.size()); i++) {
                if (eq(s.get(i), t.get(i))) continue;
                return compare(s.get(i), t.get(i), op);
            }
            return Integer.compare(s.size(), t.size());
        }
        throw new PyError("'" + op + "' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    static int compareCodePoints(String s, String t) {
        int i = 0, j = 0;
        while (i < s.length() && j < t.length()) {
            int a = s.codePointAt(i), b = t.codePointAt(j);
            if (a != b) return Integer.compare(a, b);
            i += Character.charCount(a);
            j += Character.charCount(b);
        }
        return Integer.compare(s.length() - i, t.length() - j);
    }

    // ------------------------------------------------------------------ containers

    /** The items of a list or tuple. */
    static List<?> items(Object v) {
        return v instanceof Tuple t ? t.items() : (List<?>) v;
    }

    /** Python's iteration: a str gives its characters, a dict its keys; Undefined nothing; None and numbers fail. */
    static List<Object> iterate(Object v) {
        return switch (v) {
            case null -> throw new PyError("'NoneType' object is not iterable");
            case Markup m -> iterate(m.s());
            case GroupTuple g -> new ArrayList<>(java.util.Arrays.asList(g.grouper(), g.list()));
            case Gen g -> g.consume();
            case View w -> new ArrayList<>(w.items());
            case String s -> {
                List<Object> out = new ArrayList<>();
                s.codePoints().forEach(c -> out.add(new String(Character.toChars(c))));
                yield out;
            }
            case Tuple t -> new ArrayList<>(t.items());
            case List<?> l -> new ArrayList<>(l);
            case Map<?, ?> m -> new ArrayList<>(m.keySet());
            case Undefined u -> {
                if (u.unsafe != null) throw u.fail();
                yield new ArrayList<>();
            }
            case Namespace n -> throw new PyError("'Namespace' object is not iterable");
            default -> throw new PyError("'" + typeName(v) + "' object is not iterable");
        };
    }

    static long len(Object v) {
        return switch (v) {
            case null -> throw new PyError("object of type 'NoneType' has no len()");
            case Markup m -> len(m.s());
            case View w -> w.items().size();
            case String s -> s.codePointCount(0, s.length());
            case Tuple t -> t.items().size();
            case List<?> l -> l.size();
            case Map<?, ?> m -> m.size();
            case Undefined u -> 0;
            default -> throw new PyError("object of type '" + typeName(v) + "' has no len()");
        };
    }

    /** {@code item in container}. */
    static boolean contains(Object container, Object item) {
        return switch (container) {
            case null -> throw new PyError("argument of type 'NoneType' is not iterable");
            case Markup m -> contains(m.s(), item);
            case Gen g -> g.consume().stream().anyMatch(x -> eq(x, item));
            case View w -> w.items().stream().anyMatch(x -> eq(x, item));
            case String s -> {
                if (asString(item) == null)
                    throw new PyError("'in <string>' requires string as left operand, not " + typeName(item));
                yield s.contains(asString(item));
            }
            case Map<?, ?> m -> findKey(m, item) != MISSING;
            case Tuple t -> t.items().stream().anyMatch(x -> eq(x, item));
            case List<?> l -> l.stream().anyMatch(x -> eq(x, item));
            case Undefined u -> {
                if (u.unsafe != null) throw u.fail();
                yield false;
            }
            default -> throw new PyError("argument of type '" + typeName(container) + "' is not iterable");
        };
    }

    // ------------------------------------------------------------------ attributes and items (the sandbox)

    /**
     * {@code obj.name} as Jinja2's immutable sandbox resolves it: a Python attribute of the value's type
     * (a dict's {@code items}, a str's {@code strip}) if it has one, else the item {@code obj[name]}, else
     * Undefined. Methods that would change a list or dict are refused (the immutable sandbox), and so is
     * every name starting with an underscore.
     */
    static Object getattr(Object obj, String name) {
        if (obj instanceof Undefined u) throw new PyError(u.unsafe != null ? u.unsafe : undefinedAttr(u, name));
        if (obj == null) return undefined(null, name);
        if (obj instanceof Namespace n) return n.attrs.containsKey(name) ? n.attrs.get(name) : undefined(obj, name);
        if (obj instanceof Loop l) return l.attr(name);
        if (obj instanceof GroupTuple g && (name.equals("grouper") || name.equals("list"))) return name.equals("grouper") ? g.grouper() : g.list();
        if (!name.startsWith("_") && Methods.hasMethod(obj, name)) {
            String unsafe = Methods.unsafeMethod(obj, name);
            if (unsafe != null) return new Undefined(unsafe, unsafe);
            return new BoundMethod(obj, name);
        }
        if (obj instanceof Map<?, ?> m) {
            Object k = findKey(m, name);
            if (k != MISSING) return m.get(k);
        }
        return undefined(obj, name);
    }

    /** {@code obj[key]}: the item if there is one, else (a str key) the attribute, else Undefined. */
    static Object getitem(Object obj, Object key) {
        if (obj == null) return undefined(null, key);
        if (obj instanceof Markup m) obj = m.s();
        if (obj instanceof GroupTuple g) obj = new Tuple(java.util.Arrays.asList(g.grouper(), g.list()));
        switch (obj) {
            case Undefined u -> throw new PyError(u.unsafe != null ? u.unsafe : undefinedAttr(u, str(key)));
            case Map<?, ?> m -> {
                Object k = findKey(m, key);
                if (k != MISSING) return m.get(k);
            }
            case String s when isInt(key) -> {
                int n = s.codePointCount(0, s.length());
                long i = asLong(key);
                if (i < 0) i += n;
                if (i >= 0 && i < n) {
                    int at = s.offsetByCodePoints(0, (int) i);
                    return new String(Character.toChars(s.codePointAt(at)));
                }
            }
            case Tuple t when isInt(key) -> {
                Object v = index(t.items(), asLong(key));
                if (v != MISSING) return v;
            }
            case List<?> l when isInt(key) -> {
                Object v = index(l, asLong(key));
                if (v != MISSING) return v;
            }
            default -> { }
        }
        if (key instanceof String name && !(obj instanceof Map<?, ?>)) return getattr(obj, name);
        if (key instanceof String name && obj instanceof Map<?, ?> && !name.startsWith("_") && Methods.hasMethod(obj, name))
            return getattr(obj, name);
        return undefined(obj, key);
    }

    private static Object index(List<?> l, long i) {
        if (i < 0) i += l.size();
        return i >= 0 && i < l.size() ? l.get((int) i) : MISSING;
    }

    static Undefined undefined(Object obj, Object name) {
        return new Undefined("'" + typeName(obj) + " object' has no attribute " + (name instanceof String s ? "'" + s + "'" : repr(name)));
    }

    private static String undefinedAttr(Undefined u, String name) {
        return u.hint.startsWith("'") && u.hint.contains("has no attribute") ? u.hint
                : u.hint.endsWith("is undefined") ? u.hint : "'" + name + "' of an undefined value: " + u.hint;
    }

    /** {@code obj[start:stop:step]} on a str, list or tuple, with Python's rules for bounds and negative steps. */
    static Object slice(Object obj, Object start, Object stop, Object step) {
        long st = step == null ? 1 : asLong(step);
        if (st == 0) throw new PyError("slice step cannot be zero");
        List<Object> src;
        String s = asString(obj);
        if (s != null) src = iterate(s);
        else if (obj instanceof Tuple t) src = new ArrayList<>(t.items());
        else if (obj instanceof List<?> l) src = new ArrayList<>(l);
        else if (obj instanceof Undefined u) throw u.fail();
        else throw new PyError("'" + typeName(obj) + "' object is not subscriptable");
        int n = src.size();
        long a, b;
        if (st > 0) {
            a = start == null ? 0 : clamp(asLong(start), n, 0, n);
            b = stop == null ? n : clamp(asLong(stop), n, 0, n);
        } else {
            a = start == null ? n - 1 : clamp(asLong(start), n, -1, n - 1);
            b = stop == null ? -1 : clamp(asLong(stop), n, -1, n - 1);
        }
        List<Object> out = new ArrayList<>();
        for (long i = a; st > 0 ? i < b : i > b; i += st) out.add(src.get((int) i));
        if (s != null) {
            StringBuilder sb = new StringBuilder();
            for (Object c : out) sb.append((String) c);
            return sb.toString();
        }
        return obj instanceof Tuple ? new Tuple(out) : out;
    }

    private static long clamp(long i, int n, long lo, long hi) {
        if (i < 0) i += n;
        return Math.max(lo, Math.min(hi, i));
    }

    // ------------------------------------------------------------------ arithmetic

    static Object binary(String op, Object a, Object b, Renderer r) {
        if (a instanceof Undefined u) throw u.fail();
        if (b instanceof Undefined u) throw u.fail();
        switch (op) {
            case "+" -> {
                if (isNumber(a) && isNumber(b)) return arith(op, a, b);
                if ((a instanceof Markup || b instanceof Markup) && asString(a) != null && asString(b) != null) {
                    String x = a instanceof Markup m ? m.s() : escape(asString(a)), y = b instanceof Markup m ? m.s() : escape(asString(b));
                    return new Markup(r.string((long) x.length() + y.length(), () -> x + y));
                }
                if (a instanceof String s && b instanceof String t) return r.string((long) s.length() + t.length(), () -> s + t);
                if (a instanceof Tuple s && b instanceof Tuple t) return new Tuple(concat(s.items(), t.items(), r));
                if (a instanceof List<?> s && b instanceof List<?> t && !(a instanceof Tuple) && !(b instanceof Tuple))
                    return concat(s, t, r);
            }
            case "-", "/", "//", "%", "**" -> {
                if (isNumber(a) && isNumber(b)) return arith(op, a, b);
                if (op.equals("%") && a instanceof String fmt) return Formatting.percentFormat(r, fmt, b);
                if (op.equals("%") && a instanceof Markup fmt) return new Markup(Formatting.percentFormat(r, fmt.s(), escapeArgs(b)));
            }
            case "*" -> {
                if (isNumber(a) && isNumber(b)) return arith(op, a, b);
                if (isInt(b) && !(b instanceof Double)) {
                    Object rep = repeat(a, asLong(b), r);
                    if (rep != null) return rep;
                }
                if (isInt(a) && !(a instanceof Double)) {
                    Object rep = repeat(b, asLong(a), r);
                    if (rep != null) return rep;
                }
            }
            default -> { }
        }
        throw new PyError("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    private static List<Object> concat(List<?> a, List<?> b, Renderer r) {
        r.items((long) a.size() + b.size());
        List<Object> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    private static Object repeat(Object v, long times, Renderer r) {
        long n = Math.max(0, times);
        if (v instanceof String s) return r.string(s.length() * n, () -> s.repeat((int) n));
        if (v instanceof Markup m) return new Markup(r.string(m.s().length() * n, () -> m.s().repeat((int) n)));
        if (v instanceof Tuple t) return new Tuple(repeatList(t.items(), n, r));
        if (v instanceof List<?> l) return repeatList(l, n, r);
        return null;
    }

    /** Markup % args escapes the plain strings among the arguments. */
    private static Object escapeArgs(Object b) {
        if (b instanceof String s) return escape(s);
        if (b instanceof Tuple t) return new Tuple(t.items().stream().map(x -> x instanceof String s ? (Object) escape(s) : x).toList());
        return b;
    }

    private static List<Object> repeatList(List<?> l, long n, Renderer r) {
        r.items(l.size() * n);
        List<Object> out = new ArrayList<>();
        for (long i = 0; i < n; i++) out.addAll(l);
        return out;
    }

    private static Object arith(String op, Object a, Object b) {
        boolean floats = a instanceof Double || b instanceof Double;
        if (op.equals("/")) {
            double y = asDouble(b);
            if (y == 0) throw new PyError("division by zero");
            return asDouble(a) / y;
        }
        if (floats) {
            double x = asDouble(a), y = asDouble(b);
            return switch (op) {
                case "+" -> x + y;
                case "-" -> x - y;
                case "*" -> x * y;
                case "//" -> {
                    if (y == 0) throw new PyError("float floor division by zero");
                    yield Math.floor(x / y);
                }
                case "%" -> {
                    if (y == 0) throw new PyError("float modulo");
                    double m = x % y;
                    yield m != 0 && (m < 0) != (y < 0) ? m + y : m;
                }
                case "**" -> Math.pow(x, y);
                default -> throw new IllegalStateException(op);
            };
        }
        long x = asLong(a), y = asLong(b);
        try {
            return switch (op) {
                case "+" -> Math.addExact(x, y);
                case "-" -> Math.subtractExact(x, y);
                case "*" -> Math.multiplyExact(x, y);
                case "//" -> {
                    if (y == 0) throw new PyError("integer division or modulo by zero");
                    yield Math.floorDiv(x, y);
                }
                case "%" -> {
                    if (y == 0) throw new PyError("integer division or modulo by zero");
                    yield Math.floorMod(x, y);
                }
                case "**" -> {
                    if (y < 0) yield Math.pow(x, y);
                    yield BigInteger.valueOf(x).pow((int) Math.min(y, 4096)).longValueExact();
                }
                default -> throw new IllegalStateException(op);
            };
        } catch (ArithmeticException e) {
            throw new PyError("integer overflow (the template's numbers grew past 64 bits)");
        }
    }

    static boolean same(Object a, Object b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (a instanceof Boolean || a instanceof Long || a instanceof String) return Objects.equals(a, b); // interned in Python
        return false;
    }
}
