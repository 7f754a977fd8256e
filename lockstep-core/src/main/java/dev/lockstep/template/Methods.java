package dev.lockstep.template;

import dev.lockstep.template.Py.Tuple;
import dev.lockstep.template.TemplateException.PyError;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static dev.lockstep.template.Builtins.arg;
import static dev.lockstep.template.Builtins.capitalize;
import static dev.lockstep.template.Builtins.center;
import static dev.lockstep.template.Builtins.isSpace;
import static dev.lockstep.template.Builtins.replace;
import static dev.lockstep.template.Builtins.splitlines;
import static dev.lockstep.template.Builtins.strip;
import static dev.lockstep.template.Builtins.title;

/**
 * The methods of Python's str, dict and list that templates call ({@code s.strip()}, {@code d.get(k)},
 * {@code d.items()}, {@code l.index(x)}); those that would change a list or dict are refused as
 * Jinja2's immutable sandbox refuses them.
 */
final class Methods {
    private Methods() {}

    private static final Set<String> STR_METHODS = Set.of("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith",
            "endswith", "replace", "upper", "lower", "title", "capitalize", "find", "rfind", "index", "rindex", "count", "join", "format",
            "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "isnumeric", "isdecimal", "zfill", "center", "ljust",
            "rjust", "partition", "rpartition", "swapcase", "casefold", "removeprefix", "removesuffix", "expandtabs", "encode");
    private static final Set<String> DICT_METHODS = Set.of("get", "items", "keys", "values", "copy");
    private static final Set<String> LIST_METHODS = Set.of("index", "count", "copy");
    /** What the immutable sandbox refuses to call. */
    private static final Set<String> DICT_MUTATORS = Set.of("pop", "popitem", "update", "setdefault", "clear");
    private static final Set<String> LIST_MUTATORS = Set.of("append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear");

    static boolean hasMethod(Object obj, String name) {
        return switch (obj) {
            case null -> false;
            case String s -> STR_METHODS.contains(name);
            case Py.Markup m -> STR_METHODS.contains(name);
            case Map<?, ?> m -> DICT_METHODS.contains(name) || DICT_MUTATORS.contains(name);
            case Tuple t -> LIST_METHODS.contains(name);
            case List<?> l -> LIST_METHODS.contains(name) || LIST_MUTATORS.contains(name);
            default -> false;
        };
    }

    /** The message if the immutable sandbox refuses {@code obj.name}, else null. */
    static String unsafeMethod(Object obj, String name) {
        if (obj instanceof Map<?, ?> && DICT_MUTATORS.contains(name) || obj instanceof List<?> && !(obj instanceof Tuple)
                && LIST_MUTATORS.contains(name))
            return "access to attribute '" + name + "' of '" + Py.typeName(obj) + "' object is unsafe (the template may not change its data)";
        return null;
    }

    static Object callMethod(Renderer r, Object self, String name, List<Object> a, Map<String, Object> kw) {
        r.step();
        return switch (self) {
            case String s -> strMethod(r, s, name, a, kw);
            case Py.Markup m -> strMethod(r, m.s(), name, a, kw);
            case Map<?, ?> m -> switch (name) {
                case "get" -> {
                    Object k = Py.findKey(m, a.getFirst());
                    yield k != Py.MISSING ? m.get(k) : a.size() > 1 ? a.get(1) : kw.getOrDefault("default", null);
                }
                case "items" -> {
                    List<Object> out = new ArrayList<>();
                    m.forEach((k, v) -> out.add(Tuple.of(k, v)));
                    yield new Py.View("dict_items", out);
                }
                case "keys" -> new Py.View("dict_keys", new ArrayList<Object>(m.keySet()));
                case "values" -> new Py.View("dict_values", new ArrayList<Object>(m.values()));
                case "copy" -> new LinkedHashMap<Object, Object>(m);
                default -> throw new PyError("'dict' object has no attribute '" + name + "'");
            };
            case Tuple t -> listMethod(t.items(), name, a);
            case List<?> l -> listMethod(l, name, a);
            default -> throw new PyError("'" + Py.typeName(self) + "' object has no attribute '" + name + "'");
        };
    }

    private static Object listMethod(List<?> l, String name, List<Object> a) {
        return switch (name) {
            case "index" -> {
                for (int i = 0; i < l.size(); i++) if (Py.eq(l.get(i), a.getFirst())) yield (long) i;
                throw new PyError(Py.repr(a.getFirst()) + " is not in list");
            }
            case "count" -> l.stream().filter(x -> Py.eq(x, a.getFirst())).count();
            case "copy" -> new ArrayList<Object>(l);
            default -> throw new PyError("'list' object has no attribute '" + name + "'");
        };
    }

    private static Object strMethod(Renderer r, String s, String name, List<Object> a, Map<String, Object> kw) {
        Object a0 = a.isEmpty() ? null : a.getFirst();
        return switch (name) {
            case "strip" -> strip(s, a0 == null ? null : Py.str(a0), true, true);
            case "lstrip" -> strip(s, a0 == null ? null : Py.str(a0), true, false);
            case "rstrip" -> strip(s, a0 == null ? null : Py.str(a0), false, true);
            case "split", "rsplit" -> {
                Object sep = arg(a, kw, 0, "sep", null);
                long max = Py.asLong(arg(a, kw, 1, "maxsplit", -1L));
                yield name.equals("split") ? split(s, sep == null ? null : Py.str(sep), max) : rsplit(s, sep == null ? null : Py.str(sep), max);
            }
            case "splitlines" -> new ArrayList<Object>(splitlines(s));
            case "startswith", "endswith" -> {
                List<Object> options = a0 instanceof Tuple t ? t.items() : List.of(a0);
                boolean hit = false;
                for (Object o : options) {
                    String p = Py.str(o);
                    hit |= name.equals("startswith") ? s.startsWith(p) : s.endsWith(p);
                }
                yield hit;
            }
            case "replace" -> replace(r, s, Py.str(a.get(0)), Py.str(a.get(1)), a.size() > 2 ? Py.asLong(a.get(2)) : -1);
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower", "casefold" -> s.toLowerCase(Locale.ROOT);
            case "swapcase" -> {
                StringBuilder b = new StringBuilder();
                s.codePoints().forEach(c -> b.appendCodePoint(Character.isUpperCase(c) ? Character.toLowerCase(c) : Character.toUpperCase(c)));
                yield b.toString();
            }
            case "title" -> title(s);
            case "capitalize" -> capitalize(s);
            case "find", "index" -> {
                int at = s.indexOf(Py.str(a0));
                if (at < 0 && name.equals("index")) throw new PyError("substring not found");
                yield at < 0 ? -1L : (long) s.codePointCount(0, at);
            }
            case "rfind", "rindex" -> {
                int at = s.lastIndexOf(Py.str(a0));
                if (at < 0 && name.equals("rindex")) throw new PyError("substring not found");
                yield at < 0 ? -1L : (long) s.codePointCount(0, at);
            }
            case "count" -> {
                String sub = Py.str(a0);
                if (sub.isEmpty()) yield (long) s.codePointCount(0, s.length()) + 1;
                long n = 0;
                for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
                yield n;
            }
            case "join" -> {
                StringBuilder b = new StringBuilder();
                boolean first = true;
                for (Object x : Py.iterate(a0)) {
                    if (!(x instanceof String)) throw new PyError("sequence item: expected str instance, " + Py.typeName(x) + " found");
                    if (!first) b.append(s);
                    b.append((String) x);
                    r.checkLength(b.length());
                    first = false;
                }
                yield b.toString();
            }
            case "format" -> Formatting.strFormat(r, s, a, kw);
            case "isdigit", "isnumeric", "isdecimal" -> !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.codePoints().allMatch(Builtins::isSpace);
            case "islower" -> s.codePoints().anyMatch(Character::isLetter) && s.equals(s.toLowerCase(Locale.ROOT));
            case "isupper" -> s.codePoints().anyMatch(Character::isLetter) && s.equals(s.toUpperCase(Locale.ROOT));
            case "zfill" -> {
                int w = (int) Py.asLong(a0);
                int n = s.codePointCount(0, s.length());
                if (n >= w) yield s;
                boolean sign = s.startsWith("-") || s.startsWith("+");
                yield (sign ? s.substring(0, 1) : "") + "0".repeat(w - n) + (sign ? s.substring(1) : s);
            }
            case "center" -> center(s, (int) Py.asLong(a0), a.size() > 1 ? Py.str(a.get(1)) : " ");
            case "ljust", "rjust" -> {
                int w = (int) Py.asLong(a0), n = s.codePointCount(0, s.length());
                String fill = a.size() > 1 ? Py.str(a.get(1)) : " ";
                r.checkLength(w);
                yield n >= w ? s : name.equals("ljust") ? s + fill.repeat(w - n) : fill.repeat(w - n) + s;
            }
            case "partition", "rpartition" -> {
                String sep = Py.str(a0);
                int at = name.equals("partition") ? s.indexOf(sep) : s.lastIndexOf(sep);
                if (at < 0) yield name.equals("partition") ? Tuple.of(s, "", "") : Tuple.of("", "", s);
                yield Tuple.of(s.substring(0, at), sep, s.substring(at + sep.length()));
            }
            case "removeprefix" -> s.startsWith(Py.str(a0)) ? s.substring(Py.str(a0).length()) : s;
            case "removesuffix" -> s.endsWith(Py.str(a0)) && !Py.str(a0).isEmpty() ? s.substring(0, s.length() - Py.str(a0).length()) : s;
            case "expandtabs" -> s.replace("\t", " ".repeat((int) (a0 == null ? 8 : Py.asLong(a0))));
            case "encode" -> throw new PyError("bytes are not available in chat templates");
            default -> throw new PyError("'str' object has no attribute '" + name + "'");
        };
    }

    /** Python's str.split: on runs of whitespace without a separator (no empty strings), else on the separator exactly. */
    static List<Object> split(String s, String sep, long max) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            int i = 0, n = s.length();
            while (true) {
                while (i < n && isSpace(s.codePointAt(i))) i += Character.charCount(s.codePointAt(i));
                if (i >= n) break;
                if (max >= 0 && out.size() == max) {
                    out.add(strip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !isSpace(s.codePointAt(j))) j += Character.charCount(s.codePointAt(j));
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw new PyError("empty separator");
        int from = 0;
        for (int at = s.indexOf(sep); at >= 0 && (max < 0 || out.size() < max); at = s.indexOf(sep, from)) {
            out.add(s.substring(from, at));
            from = at + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static List<Object> rsplit(String s, String sep, long max) {
        if (max < 0) return split(s, sep, max);
        if (sep == null) {
            List<Object> all = split(s, null, -1);
            if (all.size() <= max + 1) return all;
            // the first (all.size() - max) words stay joined as they were in s
            String rest = strip(s, null, false, true);
            List<Object> out = new ArrayList<>();
            int end = rest.length();
            for (int k = 0; k < max; k++) {
                int j = end;
                while (j > 0 && !isSpace(rest.codePointBefore(j))) j--;
                out.addFirst(rest.substring(j, end));
                while (j > 0 && isSpace(rest.codePointBefore(j))) j--;
                end = j;
            }
            out.addFirst(strip(rest.substring(0, end), null, true, false));
            return out;
        }
        List<Object> out = new ArrayList<>();
        int end = s.length();
        for (int at = s.lastIndexOf(sep, end - sep.length()); at >= 0 && out.size() < max; at = s.lastIndexOf(sep, end - sep.length())) {
            out.addFirst(s.substring(at + sep.length(), end));
            end = at;
            if (end < sep.length()) {
                at = -1;
                break;
            }
        }
        out.addFirst(s.substring(0, end));
        return out;
    }
}
