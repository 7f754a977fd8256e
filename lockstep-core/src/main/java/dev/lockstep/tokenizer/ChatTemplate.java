package dev.lockstep.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgufFile;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders a conversation into a prompt with the model's own Jinja chat template
 * ({@code tokenizer.chat_template}), through Jinjava, with the helpers Hugging Face templates expect:
 * {@code messages}, {@code add_generation_prompt}, {@code bos_token}, {@code eos_token},
 * {@code raise_exception()}, {@code strftime_now()}, the {@code tojson} filter, Python string methods
 * ({@code .startswith()}, {@code .strip()}, {@code .split()}, ...), dict {@code .items()/.get()} and
 * {@code [::-1]}. A file without a template gets {@link #CHATML}.
 */
public final class ChatTemplate {

    /** The default for models without a template: ChatML (Qwen, many fine-tunes). */
    public static final String CHATML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
            + "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** One chat message. */
    /**
     * One turn: role, text, and what else the template may read of it (OpenAI's {@code tool_calls},
     * {@code tool_call_id}, {@code name}), as plain maps, lists and strings.
     */
    public record Message(String role, String content, Map<String, Object> extra) {
        public Message {
            extra = extra == null ? Map.of() : Map.copyOf(extra);
        }

        public Message(String role, String content) {
            this(role, content, Map.of());
        }
    }

    /** A template that cannot be rendered; the message says why. */
    public static final class ChatTemplateException extends LockstepException {
        public ChatTemplateException(String message) {
            super(message);
        }
    }

    private final String source;
    private final boolean isDefault;
    private final String bos, eos;
    private final Jinjava jinjava;

    public ChatTemplate(String source, String bosToken, String eosToken) {
        this(source, bosToken, eosToken, false);
    }

    private ChatTemplate(String source, String bosToken, String eosToken, boolean isDefault) {
        this.source = rewritePythonisms(source);
        this.isDefault = isDefault;
        this.bos = bosToken;
        this.eos = eosToken;
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withElResolver(resolver).withTrimBlocks(false)
                .withLstripBlocks(false).withKeepTrailingNewline(true).withFailOnUnknownTokens(false).build());
        var ctx = jinjava.getGlobalContext();
        ctx.registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", Object.class));
        ctx.registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
        ctx.registerFilter(new ToJson());
    }

    /** The template of {@code f} ({@code tokenizer.chat_template}), or ChatML when it has none. */
    public static ChatTemplate forModel(GgufFile f, Tokenizer tok) {
        String bos = tok != null && tok.bos() >= 0 ? tok.vocabulary().token(tok.bos()) : "";
        String eos = tok != null && tok.eos() >= 0 ? tok.vocabulary().token(tok.eos()) : "";
        if (f.has("tokenizer.chat_template")) return new ChatTemplate(f.getString("tokenizer.chat_template"), bos, eos, false);
        return new ChatTemplate(CHATML, bos, eos, true);
    }

    /**
     * Whether the template writes tool calls in the Hermes syntax ({@code <tool_call>{"name": ...,
     * "arguments": ...}</tool_call>}, as Qwen 2.5 / 3 and Hermes models are trained to), so that a
     * model's own calls can be read back out of its reply.
     */
    public boolean hermesToolCalls() {
        return source.contains("<tool_call>") && source.contains("tools");
    }

    /** Whether this is the documented default (the model file carries no template). */
    public boolean isDefault() {
        return isDefault;
    }

    public String render(List<Message> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, null);
    }

    /**
     * As {@link #render(List, boolean)}, with OpenAI-style tool definitions ({@code {"type": "function",
     * "function": {...}}} as maps) in the template's {@code tools} variable, as Hugging Face passes them.
     */
    public String render(List<Message> messages, boolean addGenerationPrompt, List<Map<String, Object>> tools) {
        List<Map<String, Object>> msgs = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("role", m.role());
            mm.put("content", m.content());
            mm.putAll(m.extra());
            msgs.add(mm);
        }
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("messages", msgs);
        if (tools != null) vars.put("tools", tools);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("bos_token", bos);
        vars.put("eos_token", eos);
        RenderResult r;
        RAISED.remove();
        try {
            r = jinjava.renderForResult(source, vars);
        } catch (RuntimeException e) {
            throw new ChatTemplateException("the chat template cannot be rendered: " + rootMessage(e));
        } finally {
            String raised = RAISED.get();
            RAISED.remove();
            if (raised != null) throw new ChatTemplateException("the chat template raised an error: " + raised);
        }
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL)
                throw new ChatTemplateException("the chat template cannot be rendered (line " + e.getLineno() + "): "
                        + e.getMessage());
        }
        return r.getOutput();
    }

    private static String rootMessage(Throwable e) {
        while (e.getCause() != null && e.getCause() != e) e = e.getCause();
        return e.getMessage();
    }

    /** Jinja syntax Jinjava lacks: {@code x[::-1]} becomes {@code (x|reverse)}. */
    static String rewritePythonisms(String src) {
        Matcher m = Pattern.compile("([A-Za-z_][\\w.]*(?:\\[[^\\]\\[]*\\])*)\\[::-1\\]").matcher(src);
        return m.replaceAll(r -> "(" + Matcher.quoteReplacement(r.group(1)) + "|reverse|list)");
    }

    // ---- helpers visible to templates

    /** What raise_exception() said during the current render (Jinjava wraps the exception itself). */
    private static final ThreadLocal<String> RAISED = new ThreadLocal<>();

    public static Object raiseException(Object message) {
        RAISED.set(String.valueOf(message));
        throw new ChatTemplateException("the chat template raised an error: " + message);
    }

    /** Python strftime on the current local time, for templates that print today's date. */
    public static String strftimeNow(String format) {
        ZonedDateTime now = ZonedDateTime.now();
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                out.append(c);
                continue;
            }
            char f = format.charAt(++i);
            String pattern = switch (f) {
                case 'd' -> "dd";
                case 'b' -> "MMM";
                case 'B' -> "MMMM";
                case 'Y' -> "yyyy";
                case 'y' -> "yy";
                case 'm' -> "MM";
                case 'H' -> "HH";
                case 'M' -> "mm";
                case 'S' -> "ss";
                case 'A' -> "EEEE";
                case 'a' -> "EEE";
                case 'p' -> "a";
                case 'I' -> "hh";
                case 'j' -> "DDD";
                default -> null;
            };
            if (f == '%') out.append('%');
            else if (pattern == null) out.append('%').append(f);
            else out.append(DateTimeFormatter.ofPattern(pattern, Locale.ENGLISH).format(now));
        }
        return out.toString();
    }

    /** {@code tojson} as Python's json.dumps: ", " and ": " separators, non-ASCII kept; {@code indent=n}. */
    static final class ToJson implements Filter {
        private static final ObjectMapper JSON = new ObjectMapper();

        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, args, Map.of());
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.get("indent");
            if (indent == null && args.length > 0) indent = args[0];
            try {
                if (indent != null) {
                    int n = Integer.parseInt(String.valueOf(indent));
                    DefaultPrettyPrinter pp = new DefaultPrettyPrinter(Separators.createDefaultInstance()
                            .withObjectFieldValueSpacing(Separators.Spacing.AFTER))
                            .withObjectIndenter(new DefaultIndenter(" ".repeat(n), "\n"))
                            .withArrayIndenter(new DefaultIndenter(" ".repeat(n), "\n"));
                    return JSON.writer(pp).writeValueAsString(var);
                }
                String compact = JSON.writeValueAsString(var);
                return pythonSpacing(compact);
            } catch (JsonProcessingException | NumberFormatException e) {
                throw new ChatTemplateException("tojson cannot serialise " + var + ": " + e.getMessage());
            }
        }

        /** Adds the spaces Python puts after ',' and ':' outside strings. */
        static String pythonSpacing(String json) {
            StringBuilder b = new StringBuilder(json.length() + 16);
            boolean inString = false, escape = false;
            for (char c : json.toCharArray()) {
                b.append(c);
                if (inString) {
                    if (escape) escape = false;
                    else if (c == '\\') escape = true;
                    else if (c == '"') inString = false;
                } else if (c == '"') {
                    inString = true;
                } else if (c == ',' || c == ':') {
                    b.append(' ');
                }
            }
            return b.toString();
        }
    }

    /** Python str and dict methods on Java Strings and Maps, for templates written against Jinja2. */
    static final class PythonMethods extends ELResolver {
        @Override
        public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
            if (method == null) return null;
            String name = method.toString();
            Object[] p = params == null ? new Object[0] : params;
            if (base instanceof String s) {
                Object r = stringMethod(s, name, p);
                if (r != NOT_HANDLED) {
                    context.setPropertyResolved(true);
                    return r;
                }
            } else if (base instanceof Map<?, ?> m) {
                Object r = mapMethod(m, name, p);
                if (r != NOT_HANDLED) {
                    context.setPropertyResolved(true);
                    return r;
                }
            }
            return null;
        }

        private static final Object NOT_HANDLED = new Object();

        private static Object stringMethod(String s, String name, Object[] p) {
            return switch (name) {
                case "startswith" -> anyOf(p[0], x -> s.startsWith(x));
                case "endswith" -> anyOf(p[0], x -> s.endsWith(x));
                case "strip" -> p.length == 0 || p[0] == null ? s.strip() : stripChars(s, p[0].toString(), true, true);
                case "lstrip" -> p.length == 0 || p[0] == null ? s.stripLeading() : stripChars(s, p[0].toString(), true, false);
                case "rstrip" -> p.length == 0 || p[0] == null ? s.stripTrailing() : stripChars(s, p[0].toString(), false, true);
                case "upper" -> s.toUpperCase(Locale.ROOT);
                case "lower" -> s.toLowerCase(Locale.ROOT);
                case "title" -> title(s);
                case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
                case "split" -> split(s, p.length > 0 && p[0] != null ? p[0].toString() : null,
                        p.length > 1 ? ((Number) p[1]).intValue() : -1);
                case "replace" -> s.replace(p[0].toString(), p[1].toString());
                case "find" -> s.indexOf(p[0].toString());
                case "count" -> countOf(s, p[0].toString());
                case "join" -> join(s, p[0]);
                default -> NOT_HANDLED;
            };
        }

        private static Object mapMethod(Map<?, ?> m, String name, Object[] p) {
            return switch (name) {
                case "items" -> {
                    List<List<Object>> items = new ArrayList<>();
                    for (var e : m.entrySet()) items.add(Arrays.asList(e.getKey(), e.getValue()));
                    yield items;
                }
                case "keys" -> new ArrayList<>(m.keySet());
                case "values" -> new ArrayList<>(m.values());
                case "get" -> m.containsKey(p[0]) ? m.get(p[0]) : (p.length > 1 ? p[1] : null);
                default -> NOT_HANDLED;
            };
        }

        private static boolean anyOf(Object arg, java.util.function.Predicate<String> test) {
            if (arg instanceof Iterable<?> it) {
                for (Object o : it) if (test.test(String.valueOf(o))) return true;
                return false;
            }
            return test.test(String.valueOf(arg));
        }

        private static String stripChars(String s, String chars, boolean left, boolean right) {
            int a = 0, b = s.length();
            if (left) while (a < b && chars.indexOf(s.charAt(a)) >= 0) a++;
            if (right) while (b > a && chars.indexOf(s.charAt(b - 1)) >= 0) b--;
            return s.substring(a, b);
        }

        private static String title(String s) {
            StringBuilder b = new StringBuilder();
            boolean start = true;
            for (char c : s.toCharArray()) {
                b.append(start ? Character.toUpperCase(c) : Character.toLowerCase(c));
                start = !Character.isLetter(c);
            }
            return b.toString();
        }

        /** Python's str.split: literal separator; no separator = split on runs of whitespace. */
        static List<String> split(String s, String sep, int max) {
            List<String> out = new ArrayList<>();
            if (sep == null) {
                for (String part : s.strip().split("\\s+", max < 0 ? 0 : max + 1)) if (!part.isEmpty()) out.add(part);
                return out;
            }
            int from = 0, at;
            while ((max < 0 || out.size() < max) && (at = s.indexOf(sep, from)) >= 0) {
                out.add(s.substring(from, at));
                from = at + sep.length();
            }
            out.add(s.substring(from));
            return out;
        }

        private static int countOf(String s, String sub) {
            if (sub.isEmpty()) return s.length() + 1;
            int c = 0;
            for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) c++;
            return c;
        }

        private static String join(String sep, Object items) {
            StringBuilder b = new StringBuilder();
            Iterator<?> it = items instanceof Iterable<?> i ? i.iterator() : List.of(items).iterator();
            while (it.hasNext()) {
                b.append(it.next());
                if (it.hasNext()) b.append(sep);
            }
            return b.toString();
        }

        @Override public Object getValue(ELContext context, Object base, Object property) { return null; }
        @Override public Class<?> getType(ELContext context, Object base, Object property) { return null; }
        @Override public void setValue(ELContext context, Object base, Object property, Object value) {}
        @Override public boolean isReadOnly(ELContext context, Object base, Object property) { return true; }
        @Override public Iterator<java.beans.FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) { return null; }
        @Override public Class<?> getCommonPropertyType(ELContext context, Object base) { return null; }
    }
}
