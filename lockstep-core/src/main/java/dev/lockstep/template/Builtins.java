package dev.lockstep.template;

import dev.lockstep.template.Py.Tuple;
import dev.lockstep.template.Py.Undefined;
import dev.lockstep.template.TemplateException.PyError;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Jinja2's filters, tests and global functions, and the methods of Python's str, dict and list, as
 * chat templates use them. Only these exist: a template reaches no Java method, no file, no class.
 * Methods that would change a list or dict ({@code append}, {@code pop}, ...) are refused as Jinja2's
 * immutable sandbox (transformers') refuses them.
 */
final class Builtins {
    private Builtins() {}

    interface Filter {
        Object apply(Renderer r, Object value, List<Object> args, Map<String, Object> kw);
    }

    interface Test {
        boolean apply(Renderer r, Object value, List<Object> args);
    }

    private static final Map<String, Filter> FILTERS = new LinkedHashMap<>();
    private static final Map<String, Test> TESTS = new LinkedHashMap<>();

    static boolean hasFilter(String name) {
        return FILTERS.containsKey(name);
    }

    static boolean hasTest(String name) {
        return TESTS.containsKey(name);
    }

    static Object filter(Renderer r, String name, Object value, List<Object> args, Map<String, Object> kw) {
        Filter f = FILTERS.get(name);
        if (f == null) throw new PyError("no filter named '" + name + "'");
        return f.apply(r, value, args, kw);
    }

    static boolean test(Renderer r, String name, Object value, List<Object> args) {
        Test t = TESTS.get(name);
        if (t == null) throw new PyError("no test named '" + name + "'");
        return t.apply(r, value, args);
    }

    /** The global functions every template has (a chat template adds raise_exception and strftime_now). */
    static Map<String, Object> globals() {
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("range", (Py.Callable) (r, a, kw) -> range(r, a));
        g.put("dict", (Py.Callable) (r, a, kw) -> {
            Map<Object, Object> m = new LinkedHashMap<>();
            if (!a.isEmpty()) {
                if (a.getFirst() instanceof Map<?, ?> src) m.putAll(src);
                else for (Object pair : Py.iterate(a.getFirst())) {
                    List<Object> kv = Py.iterate(pair);
                    m.put(kv.get(0), kv.get(1));
                }
            }
            m.putAll(kw);
            return m;
        });
        g.put("namespace", (Py.Callable) (r, a, kw) -> {
            Py.Namespace ns = new Py.Namespace();
            if (!a.isEmpty() && a.getFirst() instanceof Map<?, ?> m) m.forEach((k, v) -> ns.attrs.put(Py.str(k), v));
            ns.attrs.putAll(kw);
            return ns;
        });
        g.put("joiner", (Py.Callable) (r, a, kw) -> {
            String sep = a.isEmpty() ? Py.str(kw.getOrDefault("sep", ", ")) : Py.str(a.getFirst());
            boolean[] used = {false};
            return (Py.Callable) (r2, a2, kw2) -> {
                if (used[0]) return sep;
                used[0] = true;
                return "";
            };
        });
        g.put("cycler", (Py.Callable) (r, a, kw) -> {
            Py.Namespace ns = new Py.Namespace(); // .next() and .current, as Jinja2's Cycler
            int[] pos = {0};
            ns.attrs.put("next", (Py.Callable) (r2, a2, kw2) -> a.get(pos[0]++ % a.size()));
            ns.attrs.put("current", a.isEmpty() ? null : a.getFirst());
            return ns;
        });
        return g;
    }

    private static List<Object> range(Renderer r, List<Object> a) {
        long start = 0, stop, step = 1;
        if (a.isEmpty()) throw new PyError("range expected at least 1 argument, got 0");
        if (a.size() == 1) stop = Py.asLong(a.get(0));
        else {
            start = Py.asLong(a.get(0));
            stop = Py.asLong(a.get(1));
            if (a.size() > 2) step = Py.asLong(a.get(2));
        }
        if (step == 0) throw new PyError("range() arg 3 must not be zero");
        long n = step > 0 ? Math.max(0, (stop - start + step - 1) / step) : Math.max(0, (start - stop - step - 1) / -step);
        if (n > r.maxRange())
            throw new TemplateException.LimitExceeded(0, "a range of " + n + " items is more than the limit of " + r.maxRange());
        r.items(n);
        List<Object> out = new ArrayList<>((int) n);
        for (long i = 0, v = start; i < n; i++, v += step) out.add(v);
        return out;
    }

    // ------------------------------------------------------------------ helpers

    static Object arg(List<Object> args, Map<String, Object> kw, int i, String name, Object dflt) {
        if (i < args.size()) return args.get(i);
        if (kw.containsKey(name)) return kw.get(name);
        return dflt;
    }

    private static String text(Object v) {
        if (v instanceof Py.Markup m) return m.s();
        if (v instanceof Undefined u) {
            if (u.unsafe != null) throw u.fail();
            return "";
        }
        return Py.str(v);
    }

    /** Python's str.isspace for one code point. */
    static boolean isSpace(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x1F || c == 0x85;
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int a = 0, b = s.length();
        if (left) while (a < b && (chars == null ? isSpace(s.codePointAt(a)) : chars.indexOf(s.codePointAt(a)) >= 0))
            a += Character.charCount(s.codePointAt(a));
        if (right) while (b > a && (chars == null ? isSpace(s.codePointBefore(b)) : chars.indexOf(s.codePointBefore(b)) >= 0))
            b -= Character.charCount(s.codePointBefore(b));
        return s.substring(a, b);
    }

    /** Python's str.splitlines (keepends false): \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029. */
    static List<String> splitlines(String s) {
        List<String> out = new ArrayList<>();
        int start = 0, i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            boolean brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85
                    || c == 0x2028 || c == 0x2029;
            if (!brk) {
                i++;
                continue;
            }
            out.add(s.substring(start, i));
            i += c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n' ? 2 : 1;
            start = i;
        }
        if (start < s.length()) out.add(s.substring(start));
        return out;
    }

    private static Object attrPath(Renderer r, Object item, String path) {
        Object v = item;
        for (String part : path.split("\\.")) v = part.matches("-?\\d+") ? Py.getitem(v, Long.parseLong(part)) : Py.getitem(v, part);
        return v;
    }

    private static int sortCompare(Object a, Object b, boolean caseSensitive) {
        if (!caseSensitive && a instanceof String s && b instanceof String t)
            return Py.compareCodePoints(s.toLowerCase(Locale.ROOT), t.toLowerCase(Locale.ROOT));
        return Py.compare(a, b, "<");
    }

    // ------------------------------------------------------------------ filters

    static {
        FILTERS.put("tojson", (r, v, a, kw) -> {
            // transformers' own: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
            boolean ascii = Py.truthy(arg(a, kw, 99, "ensure_ascii", false));
            Object indent = arg(a, kw, 0, "indent", null);
            Object seps = arg(a, kw, 99, "separators", null);
            boolean sort = Py.truthy(arg(a, kw, 99, "sort_keys", false));
            String ind = indent == null ? null : indent instanceof String s ? s : " ".repeat((int) Math.max(0, Py.asLong(indent)));
            String item = ind == null ? ", " : ",", key = ": ";
            if (seps != null) {
                List<Object> p = Py.iterate(seps);
                item = Py.str(p.get(0));
                key = Py.str(p.get(1));
            }
            return Json.toJson(v, ascii, ind, item, key, sort, r);
        });
        Filter length = (r, v, a, kw) -> Py.len(v);
        FILTERS.put("length", length);
        FILTERS.put("count", length);
        FILTERS.put("string", (r, v, a, kw) -> text(v));
        FILTERS.put("safe", (r, v, a, kw) -> v instanceof Py.Markup ? v : new Py.Markup(text(v)));
        FILTERS.put("trim", (r, v, a, kw) -> {
            Object chars = arg(a, kw, 0, "chars", null);
            return strip(text(v), chars == null ? null : Py.str(chars), true, true);
        });
        Filter dflt = (r, v, a, kw) -> {
            Object d = arg(a, kw, 0, "default_value", "");
            boolean bool = Py.truthy(arg(a, kw, 1, "boolean", false));
            if (v instanceof Undefined u && u.unsafe == null || bool && !Py.truthy(v)) return d;
            return v;
        };
        FILTERS.put("default", dflt);
        FILTERS.put("d", dflt);
        FILTERS.put("upper", (r, v, a, kw) -> text(v).toUpperCase(Locale.ROOT));
        FILTERS.put("lower", (r, v, a, kw) -> text(v).toLowerCase(Locale.ROOT));
        FILTERS.put("capitalize", (r, v, a, kw) -> capitalize(text(v)));
        FILTERS.put("title", (r, v, a, kw) -> title(text(v)));
        FILTERS.put("join", (r, v, a, kw) -> {
            String sep = Py.str(arg(a, kw, 0, "d", ""));
            Object attr = arg(a, kw, 1, "attribute", null);
            StringBuilder b = new StringBuilder();
            boolean first = true;
            for (Object x : Py.iterate(v)) {
                r.step();
                if (!first) b.append(sep);
                b.append(text(attr == null ? x : attrPath(r, x, Py.str(attr))));
                r.checkLength(b.length());
                first = false;
            }
            return b.toString();
        });
        FILTERS.put("replace", (r, v, a, kw) -> {
            String s = text(v), old = Py.str(arg(a, kw, 0, "old", "")), rep = Py.str(arg(a, kw, 1, "new", ""));
            Object count = arg(a, kw, 2, "count", null);
            return replace(r, s, old, rep, count == null ? -1 : Py.asLong(count));
        });
        FILTERS.put("list", (r, v, a, kw) -> Py.iterate(v));
        FILTERS.put("items", (r, v, a, kw) -> {
            if (v instanceof Undefined) return new Py.Gen("generator", new ArrayList<>());
            if (!(v instanceof Map<?, ?> m)) throw new PyError("can only get item pairs from a mapping");
            List<Object> out = new ArrayList<>();
            m.forEach((k, x) -> out.add(Tuple.of(k, x)));
            return new Py.Gen("generator", out);
        });
        FILTERS.put("dictsort", (r, v, a, kw) -> {
            if (!(v instanceof Map<?, ?> m)) throw new PyError("you can only sort by either \"key\" or \"value\" of a mapping");
            boolean cs = Py.truthy(arg(a, kw, 0, "case_sensitive", false));
            String by = Py.str(arg(a, kw, 1, "by", "key"));
            boolean rev = Py.truthy(arg(a, kw, 2, "reverse", false));
            List<Tuple> pairs = new ArrayList<>();
            m.forEach((k, x) -> pairs.add(Tuple.of(k, x)));
            int pos = by.equals("value") ? 1 : 0;
            pairs.sort((x, y) -> sortCompare(x.items().get(pos), y.items().get(pos), cs));
            if (rev) java.util.Collections.reverse(pairs);
            return new ArrayList<Object>(pairs);
        });
        FILTERS.put("indent", (r, v, a, kw) -> indent(r, text(v), arg(a, kw, 0, "width", 4L), Py.truthy(arg(a, kw, 1, "first", false)),
                Py.truthy(arg(a, kw, 2, "blank", false))));
        FILTERS.put("first", (r, v, a, kw) -> {
            List<Object> l = Py.iterate(v);
            return l.isEmpty() ? new Undefined("No first item, sequence was empty.") : l.getFirst();
        });
        FILTERS.put("last", (r, v, a, kw) -> {
            List<Object> l = Py.iterate(v);
            return l.isEmpty() ? new Undefined("No last item, sequence was empty.") : l.getLast();
        });
        FILTERS.put("reverse", (r, v, a, kw) -> {
            if (Py.asString(v) != null) return Py.slice(v, null, null, -1L);
            boolean lazy = v instanceof Py.Gen; // reversed() refuses a generator: Jinja2 makes a list of it
            List<Object> l = Py.iterate(v);
            java.util.Collections.reverse(l);
            return lazy ? l : new Py.Gen(v instanceof Tuple ? "reversed" : "list_reverseiterator", l);
        });
        FILTERS.put("sort", (r, v, a, kw) -> {
            boolean rev = Py.truthy(arg(a, kw, 0, "reverse", false)), cs = Py.truthy(arg(a, kw, 1, "case_sensitive", false));
            Object attr = arg(a, kw, 2, "attribute", null);
            List<Object> l = Py.iterate(v);
            r.items(l.size());
            Comparator<Object> c = (x, y) -> sortCompare(attr == null ? x : attrPath(r, x, Py.str(attr)),
                    attr == null ? y : attrPath(r, y, Py.str(attr)), cs);
            l.sort(rev ? c.reversed() : c);
            return l;
        });
        FILTERS.put("unique", (r, v, a, kw) -> {
            List<Object> out = new ArrayList<>();
            for (Object x : Py.iterate(v)) {
                r.step();
                if (out.stream().noneMatch(y -> Py.eq(y, x))) out.add(x);
            }
            return new Py.Gen("generator", out);
        });
        FILTERS.put("min", (r, v, a, kw) -> minMax(r, v, a, kw, -1));
        FILTERS.put("max", (r, v, a, kw) -> minMax(r, v, a, kw, 1));
        FILTERS.put("sum", (r, v, a, kw) -> {
            Object attr = arg(a, kw, 0, "attribute", null), total = arg(a, kw, 1, "start", 0L);
            for (Object x : Py.iterate(v)) total = Py.binary("+", total, attr == null ? x : attrPath(r, x, Py.str(attr)), r);
            return total;
        });
        FILTERS.put("int", (r, v, a, kw) -> toInt(v, arg(a, kw, 0, "default", 0L)));
        FILTERS.put("float", (r, v, a, kw) -> {
            try {
                return v instanceof String s ? Double.parseDouble(s.strip()) : Py.asDouble(v);
            } catch (RuntimeException e) {
                return arg(a, kw, 0, "default", 0.0);
            }
        });
        FILTERS.put("abs", (r, v, a, kw) -> v instanceof Double d ? (Object) Math.abs(d) : (Object) Math.abs(Py.asLong(v)));
        FILTERS.put("round", (r, v, a, kw) -> {
            int precision = (int) Py.asLong(arg(a, kw, 0, "precision", 0L));
            String method = Py.str(arg(a, kw, 1, "method", "common"));
            double x = Py.asDouble(v);
            if (method.equals("common")) // Python's round(): half to even, on the exact binary value (2.675 -> 2.67)
                return Double.isFinite(x) ? new java.math.BigDecimal(x).setScale(precision, java.math.RoundingMode.HALF_EVEN).doubleValue() : x;
            if (!method.equals("ceil") && !method.equals("floor")) throw new PyError("method must be common, ceil or floor");
            double scale = Math.pow(10, precision); // Jinja2: func(value * 10 ** precision) / 10 ** precision
            return (method.equals("ceil") ? Math.ceil(x * scale) : Math.floor(x * scale)) / scale;
        });
        FILTERS.put("map", (r, v, a, kw) -> {
            List<Object> out = new ArrayList<>();
            Object attr = kw.get("attribute");
            if (!Py.truthy(v)) return new Py.Gen("generator", out); // "if value:" first, as select
            for (Object x : Py.iterate(v)) {
                r.step();
                if (attr != null) {
                    Object got = attrPath(r, x, Py.str(attr));
                    out.add(got instanceof Undefined && kw.containsKey("default") ? kw.get("default") : got);
                } else {
                    if (a.isEmpty()) throw new PyError("map requires a filter argument");
                    out.add(filter(r, Py.str(a.getFirst()), x, a.subList(1, a.size()), Map.of()));
                }
            }
            return new Py.Gen("generator", out);
        });
        FILTERS.put("select", (r, v, a, kw) -> select(r, v, a, false, false));
        FILTERS.put("reject", (r, v, a, kw) -> select(r, v, a, true, false));
        FILTERS.put("selectattr", (r, v, a, kw) -> select(r, v, a, false, true));
        FILTERS.put("rejectattr", (r, v, a, kw) -> select(r, v, a, true, true));
        FILTERS.put("batch", (r, v, a, kw) -> {
            long n = Py.asLong(arg(a, kw, 0, "linecount", 1L));
            if (n <= 0) throw new PyError("batch size must be positive");
            Object fill = arg(a, kw, 1, "fill_with", null);
            List<Object> out = new ArrayList<>(), cur = new ArrayList<>();
            for (Object x : Py.iterate(v)) {
                cur.add(x);
                if (cur.size() == n) {
                    out.add(cur);
                    cur = new ArrayList<>();
                }
            }
            if (!cur.isEmpty()) {
                if (fill != null) while (cur.size() < n) cur.add(fill);
                out.add(cur);
            }
            return new Py.Gen("generator", out);
        });
        FILTERS.put("groupby", (r, v, a, kw) -> {
            Object attr = arg(a, kw, 0, "attribute", null);
            if (attr == null) throw new PyError("groupby() missing 1 required positional argument: 'attribute'");
            Object dfl = arg(a, kw, 1, "default", null);
            boolean cs = Py.truthy(arg(a, kw, 2, "case_sensitive", false));
            List<Object> items = Py.iterate(v);
            r.items(items.size());
            List<Object[]> keyed = new ArrayList<>();
            for (Object x : items) {
                Object k = attrPath(r, x, Py.str(attr));
                if (k instanceof Undefined && dfl != null) k = dfl;
                keyed.add(new Object[]{k, x});
            }
            keyed.sort((x, y) -> sortCompare(x[0], y[0], cs));
            List<Object> out = new ArrayList<>();
            for (int i = 0; i < keyed.size(); ) {
                int j = i;
                List<Object> group = new ArrayList<>();
                while (j < keyed.size() && (cs ? Py.eq(keyed.get(j)[0], keyed.get(i)[0]) : sortCompare(keyed.get(j)[0], keyed.get(i)[0], false) == 0))
                    group.add(keyed.get(j++)[1]);
                out.add(new Py.GroupTuple(keyed.get(i)[0], group));
                i = j;
            }
            return out;
        });
        FILTERS.put("slice", (r, v, a, kw) -> {
            int n = (int) Py.asLong(arg(a, kw, 0, "slices", 1L));
            Object fill = arg(a, kw, 1, "fill_with", null);
            List<Object> seq = Py.iterate(v);
            int per = seq.size() / n, extra = seq.size() % n, offset = 0;
            List<Object> out = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int start = offset + i * per, end = start + per;
                if (i < extra) offset++;
                end += i < extra ? 1 : 0;
                List<Object> part = new ArrayList<>(seq.subList(Math.min(start, seq.size()), Math.min(end, seq.size())));
                if (fill != null && i >= extra) part.add(fill);
                out.add(part);
            }
            return new Py.Gen("generator", out);
        });
        FILTERS.put("wordwrap", (r, v, a, kw) -> {
            int width = (int) Py.asLong(arg(a, kw, 0, "width", 79L));
            boolean breakLong = Py.truthy(arg(a, kw, 1, "break_long_words", true));
            String wrap = Py.str(arg(a, kw, 2, "wrapstring", "\n"));
            StringBuilder b = new StringBuilder();
            for (String para : text(v).split("\n", -1)) {
                if (b.length() > 0) b.append(wrap);
                StringBuilder line = new StringBuilder();
                for (String word : para.split(" +")) {
                    if (word.isEmpty()) continue;
                    while (breakLong && word.length() > width) {
                        if (!line.isEmpty()) { b.append(line).append(wrap); line.setLength(0); }
                        b.append(word, 0, width).append(wrap);
                        word = word.substring(width);
                    }
                    if (!line.isEmpty() && line.length() + 1 + word.length() > width) { b.append(line).append(wrap); line.setLength(0); }
                    if (!line.isEmpty()) line.append(' ');
                    line.append(word);
                }
                b.append(line);
                r.checkLength(b.length());
            }
            return b.toString();
        });
        FILTERS.put("wordcount", (r, v, a, kw) -> (long) text(v).split("\\s+").length - (text(v).isBlank() ? 1 : 0));
        FILTERS.put("center", (r, v, a, kw) -> center(text(v), (int) Py.asLong(arg(a, kw, 0, "width", 80L)), " "));
        FILTERS.put("truncate", (r, v, a, kw) -> {
            String s = text(v);
            int n = (int) Py.asLong(arg(a, kw, 0, "length", 255L));
            boolean killwords = Py.truthy(arg(a, kw, 1, "killwords", false));
            String end = Py.str(arg(a, kw, 2, "end", "..."));
            long leeway = Py.asLong(arg(a, kw, 3, "leeway", 5L));
            if (s.length() <= n + leeway) return s;
            if (killwords) return s.substring(0, Math.max(0, n - end.length())) + end;
            String cut = s.substring(0, Math.max(0, n - end.length()));
            int sp = cut.lastIndexOf(' ');
            return (sp >= 0 ? cut.substring(0, sp) : cut) + end;
        });
        Filter escape = (r, v, a, kw) -> v instanceof Py.Markup ? v : new Py.Markup(Py.escape(text(v)));
        FILTERS.put("escape", escape);
        FILTERS.put("e", escape);
        FILTERS.put("forceescape", (r, v, a, kw) -> new Py.Markup(Py.escape(text(v))));
        FILTERS.put("striptags", (r, v, a, kw) -> text(v).replaceAll("<!--.*?-->|<[^>]*>", "").replaceAll("\\s+", " ").strip());
        FILTERS.put("format", (r, v, a, kw) -> Formatting.percentFormat(r, text(v), a.size() == 1 ? a.getFirst() : new Tuple(a)));
        FILTERS.put("attr", (r, v, a, kw) -> Py.getattr(v, Py.str(arg(a, kw, 0, "name", ""))));
        FILTERS.put("pprint", (r, v, a, kw) -> Py.repr(v));
        FILTERS.put("xmlattr", (r, v, a, kw) -> {
            if (!(v instanceof Map<?, ?> m)) throw new PyError("xmlattr needs a mapping");
            StringBuilder b = new StringBuilder();
            m.forEach((k, x) -> {
                if (x == null || x instanceof Undefined) return;
                b.append(' ').append(Py.str(k)).append("=\"").append(Py.str(escape.apply(r, x, List.of(), Map.of()))).append('"');
            });
            return b.toString();
        });
    }

    // ------------------------------------------------------------------ tests

    static {
        TESTS.put("defined", (r, v, a) -> !(v instanceof Undefined));
        TESTS.put("undefined", (r, v, a) -> v instanceof Undefined);
        TESTS.put("none", (r, v, a) -> v == null);
        TESTS.put("string", (r, v, a) -> Py.asString(v) != null);
        TESTS.put("mapping", (r, v, a) -> v instanceof Map<?, ?>);
        TESTS.put("iterable", (r, v, a) -> Py.asString(v) != null || v instanceof List<?> || v instanceof Tuple || v instanceof Map<?, ?>
                || v instanceof Undefined || v instanceof Py.Gen || v instanceof Py.View);
        TESTS.put("sequence", (r, v, a) -> Py.asString(v) != null || v instanceof List<?> || v instanceof Tuple || v instanceof Map<?, ?>
                || v instanceof Undefined);
        TESTS.put("number", (r, v, a) -> Py.isNumber(v));
        TESTS.put("integer", (r, v, a) -> v instanceof Long || v instanceof java.math.BigInteger);
        TESTS.put("float", (r, v, a) -> v instanceof Double);
        TESTS.put("boolean", (r, v, a) -> v instanceof Boolean);
        TESTS.put("true", (r, v, a) -> Boolean.TRUE.equals(v));
        TESTS.put("false", (r, v, a) -> Boolean.FALSE.equals(v));
        TESTS.put("callable", (r, v, a) -> v instanceof Py.Callable);
        TESTS.put("even", (r, v, a) -> Py.asLong(v) % 2 == 0);
        TESTS.put("odd", (r, v, a) -> Py.asLong(v) % 2 != 0);
        TESTS.put("divisibleby", (r, v, a) -> Py.asLong(v) % Py.asLong(a.getFirst()) == 0);
        TESTS.put("lower", (r, v, a) -> Py.asString(v) != null && Py.asString(v).equals(Py.asString(v).toLowerCase(Locale.ROOT)));
        TESTS.put("upper", (r, v, a) -> Py.asString(v) != null && Py.asString(v).equals(Py.asString(v).toUpperCase(Locale.ROOT)));
        TESTS.put("escaped", (r, v, a) -> v instanceof Py.Markup);
        TESTS.put("sameas", (r, v, a) -> Py.same(v, a.getFirst()));
        TESTS.put("in", (r, v, a) -> Py.contains(a.getFirst(), v));
        TESTS.put("filter", (r, v, a) -> v instanceof String s && FILTERS.containsKey(s));
        TESTS.put("test", (r, v, a) -> v instanceof String s && TESTS.containsKey(s));
        Test eq = (r, v, a) -> Py.eq(v, a.getFirst()), ne = (r, v, a) -> !Py.eq(v, a.getFirst());
        for (String n : new String[]{"eq", "equalto", "=="}) TESTS.put(n, eq);
        for (String n : new String[]{"ne", "!="}) TESTS.put(n, ne);
        Test lt = (r, v, a) -> Py.compare(v, a.getFirst(), "<") < 0, le = (r, v, a) -> Py.compare(v, a.getFirst(), "<=") <= 0;
        Test gt = (r, v, a) -> Py.compare(v, a.getFirst(), ">") > 0, ge = (r, v, a) -> Py.compare(v, a.getFirst(), ">=") >= 0;
        for (String n : new String[]{"lt", "lessthan", "<"}) TESTS.put(n, lt);
        for (String n : new String[]{"le", "<="}) TESTS.put(n, le);
        for (String n : new String[]{"gt", "greaterthan", ">"}) TESTS.put(n, gt);
        for (String n : new String[]{"ge", ">="}) TESTS.put(n, ge);
    }

    private static Object select(Renderer r, Object v, List<Object> a, boolean reject, boolean byAttr) {
        List<Object> out = new ArrayList<>();
        int off = byAttr ? 1 : 0;
        String attr = byAttr ? Py.str(a.getFirst()) : null;
        String test = a.size() > off ? Py.str(a.get(off)) : null;
        List<Object> targs = a.size() > off + 1 ? a.subList(off + 1, a.size()) : List.of();
        if (!Py.truthy(v)) return new Py.Gen("generator", out); // Jinja2 checks "if seq:" first (so None gives nothing)
        for (Object x : Py.iterate(v)) {
            r.step();
            Object subject = byAttr ? attrPath(r, x, attr) : x;
            boolean ok = test == null ? Py.truthy(subject) : test(r, test, subject, targs);
            if (ok != reject) out.add(x);
        }
        return new Py.Gen("generator", out);
    }

    private static Object minMax(Renderer r, Object v, List<Object> a, Map<String, Object> kw, int sign) {
        boolean cs = Py.truthy(arg(a, kw, 0, "case_sensitive", false));
        Object attr = arg(a, kw, 1, "attribute", null);
        Object best = null;
        boolean any = false;
        for (Object x : Py.iterate(v)) {
            Object key = attr == null ? x : attrPath(r, x, Py.str(attr));
            Object bestKey = best == null ? null : attr == null ? best : attrPath(r, best, Py.str(attr));
            if (!any || sign * sortCompare(key, bestKey, cs) > 0) best = x;
            any = true;
        }
        return any ? best : new Undefined("No aggregated item, sequence was empty.");
    }

    private static Object toInt(Object v, Object dflt) {
        try {
            return switch (v) {
                case Boolean b -> b ? 1L : 0L;
                case Long l -> l;
                case Double d -> (long) (double) d;
                case String s -> {
                    String t = s.strip().replace("_", "");
                    try {
                        yield Long.parseLong(t);
                    } catch (NumberFormatException e) {
                        yield (long) Double.parseDouble(t);
                    }
                }
                default -> dflt;
            };
        } catch (RuntimeException e) {
            return dflt;
        }
    }

    static String capitalize(String s) {
        if (s.isEmpty()) return s;
        int first = s.codePointAt(0);
        return new String(Character.toChars(Character.toTitleCase(first))) + s.substring(Character.charCount(first)).toLowerCase(Locale.ROOT);
    }

    /** Jinja2's title: each word (split at whitespace, hyphens and brackets, kept) capitalized. */
    static String title(String s) {
        StringBuilder b = new StringBuilder();
        boolean start = true;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            b.appendCodePoint(start ? Character.toTitleCase(c) : Character.toLowerCase(c));
            start = Character.isWhitespace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || c == '_';
        }
        return b.toString();
    }

    static String center(String s, int width, String fill) {
        int n = s.codePointCount(0, s.length());
        if (width <= n) return s;
        int total = width - n, left = total / 2 + (total & width & 1), right = total - left;
        return fill.repeat(left) + s + fill.repeat(right);
    }

    static String replace(Renderer r, String s, String old, String rep, long count) {
        if (count < 0 && !old.isEmpty()) {
            long hits = (s.length() - s.replace(old, "").length()) / old.length();
            return r.string(s.length() + hits * (rep.length() - old.length()), () -> s.replace(old, rep));
        }
        StringBuilder b = new StringBuilder();
        int from = 0;
        long done = 0;
        if (old.isEmpty()) { // Python inserts between every character
            int[] cps = s.codePoints().toArray();
            for (int i = 0; i <= cps.length; i++) {
                if (count < 0 || done < count) {
                    b.append(rep);
                    done++;
                }
                if (i < cps.length) b.appendCodePoint(cps[i]);
                r.checkLength(b.length());
            }
            return b.toString();
        }
        for (int at = s.indexOf(old); at >= 0 && (count < 0 || done < count); at = s.indexOf(old, from)) {
            b.append(s, from, at).append(rep);
            r.checkLength(b.length());
            from = at + old.length();
            done++;
        }
        return b.append(s.substring(from)).toString();
    }

    /** Jinja2's indent (3.1): lines after the first get {@code width}; blank lines only with {@code blank}. */
    private static String indent(Renderer r, String s, Object width, boolean first, boolean blank) {
        String ind = width instanceof String w ? w : " ".repeat((int) Math.max(0, Py.asLong(width)));
        List<String> lines = splitlines(s + "\n");
        StringBuilder b = new StringBuilder();
        if (blank) {
            for (int i = 0; i < lines.size(); i++) b.append(i > 0 ? "\n" + ind : "").append(lines.get(i));
        } else {
            b.append(lines.getFirst());
            for (int i = 1; i < lines.size(); i++) {
                b.append('\n');
                if (!lines.get(i).isEmpty()) b.append(ind);
                b.append(lines.get(i));
                r.checkLength(b.length());
            }
        }
        return first ? ind + b : b.toString();
    }

}
