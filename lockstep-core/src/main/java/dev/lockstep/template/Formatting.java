package dev.lockstep.template;

import dev.lockstep.template.Py.Tuple;
import dev.lockstep.template.TemplateException.PyError;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Python's string formatting: {@code str.format} and the {@code %} operator. */
final class Formatting {
    private Formatting() {}

    /** Python's str.format: {}, {0}, {name}, {0[key]}, {x.attr}, conversions !s !r, and a format spec. */
    static String strFormat(Renderer r, String fmt, List<Object> args, Map<String, Object> kw) {
        StringBuilder b = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c == '{' && i + 1 < fmt.length() && fmt.charAt(i + 1) == '{') {
                b.append('{');
                i++;
            } else if (c == '}' && i + 1 < fmt.length() && fmt.charAt(i + 1) == '}') {
                b.append('}');
                i++;
            } else if (c == '{') {
                int end = fmt.indexOf('}', i);
                if (end < 0) throw new PyError("Single '{' encountered in format string");
                String field = fmt.substring(i + 1, end);
                String spec = "", conv = null;
                int colon = field.indexOf(':');
                if (colon >= 0) {
                    spec = field.substring(colon + 1);
                    field = field.substring(0, colon);
                }
                int bang = field.indexOf('!');
                if (bang >= 0) {
                    conv = field.substring(bang + 1);
                    field = field.substring(0, bang);
                }
                String head = field.split("[.\\[]", 2)[0];
                Object v;
                if (head.isEmpty()) v = args.get(auto++);
                else if (head.chars().allMatch(Character::isDigit)) v = args.get(Integer.parseInt(head));
                else if (kw.containsKey(head)) v = kw.get(head);
                else throw new PyError("KeyError: '" + head + "'");
                String rest = field.substring(head.length());
                while (!rest.isEmpty()) {
                    if (rest.startsWith(".")) {
                        int e = rest.indexOf('.', 1), br = rest.indexOf('[', 1);
                        int stop = e < 0 ? br : br < 0 ? e : Math.min(e, br);
                        if (stop < 0) stop = rest.length();
                        v = Py.getattr(v, rest.substring(1, stop));
                        rest = rest.substring(stop);
                    } else if (rest.startsWith("[")) {
                        int close = rest.indexOf(']');
                        String key = rest.substring(1, close);
                        v = key.chars().allMatch(Character::isDigit) ? Py.getitem(v, Long.parseLong(key)) : Py.getitem(v, key);
                        rest = rest.substring(close + 1);
                    } else break;
                }
                String s = "r".equals(conv) ? Py.repr(v) : formatSpec(v, spec);
                b.append(s);
                r.checkLength(b.length());
                i = end;
            } else if (c == '}') {
                throw new PyError("Single '}' encountered in format string");
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** A format spec: [[fill]align][sign][0][width][,][.precision][type], for s, d, f, e, g, x, o, b, %. */
    private static String formatSpec(Object v, String spec) {
        if (spec.isEmpty()) return Py.str(v);
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("(?:(.)?([<>^=]))?([+\\- ])?(0)?(\\d+)?(,)?(?:\\.(\\d+))?([sdfFeEgGxXob%])?").matcher(spec);
        if (!m.matches()) throw new PyError("Invalid format specifier '" + spec + "'");
        String fill = m.group(1) != null ? m.group(1) : m.group(4) != null ? "0" : " ";
        String align = m.group(2) != null ? m.group(2) : m.group(4) != null ? "=" : null;
        String sign = m.group(3);
        int width = m.group(5) != null ? Integer.parseInt(m.group(5)) : 0;
        Integer prec = m.group(7) != null ? Integer.parseInt(m.group(7)) : null;
        String type = m.group(8);
        String body;
        boolean numeric = Py.isNumber(v) && !(v instanceof Boolean && type == null);
        if (type == null) body = prec != null && v instanceof String s ? s.substring(0, Math.min(s.length(), prec))
                : prec != null && numeric ? String.format(Locale.ROOT, "%." + prec + "g", Py.asDouble(v)) : Py.str(v);
        else body = switch (type) {
            case "s" -> prec != null ? Py.str(v).substring(0, Math.min(Py.str(v).length(), prec)) : Py.str(v);
            case "d" -> Long.toString(Py.asLong(v));
            case "f", "F" -> String.format(Locale.ROOT, "%." + (prec == null ? 6 : prec) + "f", Py.asDouble(v));
            case "e", "E" -> pyExp(String.format(Locale.ROOT, "%." + (prec == null ? 6 : prec) + "e", Py.asDouble(v)), type.equals("E"));
            case "g", "G" -> String.format(Locale.ROOT, "%." + (prec == null ? 6 : prec) + "g", Py.asDouble(v));
            case "x" -> Long.toHexString(Py.asLong(v));
            case "X" -> Long.toHexString(Py.asLong(v)).toUpperCase(Locale.ROOT);
            case "o" -> Long.toOctalString(Py.asLong(v));
            case "b" -> Long.toBinaryString(Py.asLong(v));
            case "%" -> String.format(Locale.ROOT, "%." + (prec == null ? 6 : prec) + "f", Py.asDouble(v) * 100) + "%";
            default -> Py.str(v);
        };
        if (m.group(6) != null && numeric) {
            int dot = body.indexOf('.');
            String ip = dot < 0 ? body : body.substring(0, dot), fp = dot < 0 ? "" : body.substring(dot);
            boolean neg = ip.startsWith("-");
            ip = String.format(Locale.ROOT, "%,d", Long.parseLong(neg ? ip.substring(1) : ip));
            body = (neg ? "-" : "") + ip + fp;
        }
        if (numeric && sign != null && !body.startsWith("-")) body = (sign.equals(" ") ? " " : sign.equals("+") ? "+" : "") + body;
        int n = body.codePointCount(0, body.length());
        if (n >= width) return body;
        String pad = fill.repeat(width - n);
        String a = align != null ? align : numeric ? ">" : "<";
        return switch (a) {
            case ">" -> pad + body;
            case "^" -> fill.repeat((width - n) / 2) + body + fill.repeat(width - n - (width - n) / 2);
            case "=" -> body.startsWith("-") || body.startsWith("+") ? body.charAt(0) + pad + body.substring(1) : pad + body;
            default -> body + pad;
        };
    }

    /** Java's "1.5e+00" is Python's "1.5e+00" already; Java prints at least 2 exponent digits too. */
    private static String pyExp(String s, boolean upper) {
        return upper ? s.toUpperCase(Locale.ROOT) : s;
    }

    /** Python's {@code fmt % values}: %s %r %d %i %f %x %% with flags, width and precision. */
    static String percentFormat(Renderer r, String fmt, Object values) {
        List<Object> args = values instanceof Tuple t ? t.items() : List.of(values == null ? NONE : values);
        Map<?, ?> named = values instanceof Map<?, ?> m ? m : null;
        StringBuilder b = new StringBuilder();
        int next = 0;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("%(?:\\(([^)]*)\\))?([-+ 0#]*)(\\d+)?(?:\\.(\\d+))?([sdirfFeExXgG%c])")
                .matcher(fmt);
        int last = 0;
        while (m.find()) {
            b.append(fmt, last, m.start());
            last = m.end();
            char conv = m.group(5).charAt(0);
            if (conv == '%') {
                b.append('%');
                continue;
            }
            Object v;
            if (m.group(1) != null) {
                if (named == null) throw new PyError("format requires a mapping");
                v = named.get(m.group(1));
            } else {
                if (next >= args.size()) throw new PyError("not enough arguments for format string");
                v = args.get(next++);
                if (v == NONE) v = null;
            }
            String flags = m.group(2) == null ? "" : m.group(2);
            int width = m.group(3) == null ? 0 : Integer.parseInt(m.group(3));
            Integer prec = m.group(4) == null ? null : Integer.parseInt(m.group(4));
            String body = switch (conv) {
                case 's' -> prec == null ? Py.str(v) : Py.str(v).substring(0, Math.min(prec, Py.str(v).length()));
                case 'r' -> Py.repr(v);
                case 'd', 'i' -> Long.toString(v instanceof Double d ? (long) (double) d : Py.asLong(v));
                case 'c' -> v instanceof String s ? s : new String(Character.toChars((int) Py.asLong(v)));
                case 'x' -> Long.toHexString(Py.asLong(v));
                case 'X' -> Long.toHexString(Py.asLong(v)).toUpperCase(Locale.ROOT);
                case 'f', 'F' -> String.format(Locale.ROOT, "%." + (prec == null ? 6 : prec) + "f", Py.asDouble(v));
                case 'e', 'E' -> String.format(Locale.ROOT, "%." + (prec == null ? 6 : prec) + (conv == 'e' ? "e" : "E"), Py.asDouble(v));
                default -> String.format(Locale.ROOT, "%." + (prec == null ? 6 : prec) + "g", Py.asDouble(v));
            };
            if (flags.contains("+") && Py.isNumber(v) && !body.startsWith("-")) body = "+" + body;
            int n = body.codePointCount(0, body.length());
            if (n < width) {
                if (flags.contains("-")) body = body + " ".repeat(width - n);
                else if (flags.contains("0") && Py.isNumber(v)) body = (body.startsWith("-") ? "-" : "") + "0".repeat(width - n)
                        + (body.startsWith("-") ? body.substring(1) : body);
                else body = " ".repeat(width - n) + body;
            }
            b.append(body);
            r.checkLength(b.length());
        }
        if (named == null && next < args.size()) throw new PyError("not all arguments converted during string formatting");
        return b.append(fmt.substring(last)).toString();
    }

    private static final Object NONE = new Object();
}
