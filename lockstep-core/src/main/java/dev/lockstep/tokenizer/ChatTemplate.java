package dev.lockstep.tokenizer;

import dev.lockstep.LockstepException;
import dev.lockstep.chat.ChatSyntax;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.template.Strftime;
import dev.lockstep.template.Template;
import dev.lockstep.template.TemplateException;

import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Renders a conversation into a prompt with the model's own chat template
 * ({@code tokenizer.chat_template}), exactly as Hugging Face transformers' {@code apply_chat_template}
 * does: Jinja2 semantics with {@code trim_blocks}, {@code lstrip_blocks}, loop controls, its
 * {@code tojson}, {@code raise_exception}, {@code strftime_now} and {@code {% generation %}}
 * ({@link Template}). Variables: {@code messages}, {@code tools} (when given), {@code
 * add_generation_prompt}, {@code bos_token}, {@code eos_token}, and any extra ones the caller passes
 * (vLLM's {@code chat_template_kwargs}, e.g. {@code enable_thinking}).
 *
 * <p>Message contents and every other request value are data: the template reads them as strings,
 * lists and dicts, never as template source. The template itself (from the model file) is trusted as
 * much as the model, and still runs in a sandbox: no Java methods, no other templates or files, and
 * bounded output and work ({@link Template.Limits}); past a bound the render fails with a
 * {@link ChatTemplateException} naming it. A file without a template gets {@link #CHATML}.
 */
public final class ChatTemplate {

    /** The default for models without a template: ChatML (Qwen, many fine-tunes). */
    public static final String CHATML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
            + "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /**
     * One turn: role, text, and what else the template may read of it (OpenAI's {@code tool_calls},
     * {@code tool_call_id}, {@code name}, {@code reasoning_content}), as plain maps, lists and strings.
     * A null content is None to the template (an assistant turn that only calls tools).
     */
    public record Message(String role, String content, Map<String, Object> extra) {
        public Message {
            extra = extra == null ? Map.of() : Map.copyOf(extra);
        }

        public Message(String role, String content) {
            this(role, content, Map.of());
        }
    }

    /** A template that cannot be rendered; the message says why (and where). */
    public static final class ChatTemplateException extends LockstepException {
        public ChatTemplateException(String message) {
            super(message);
        }
    }

    private final String source;
    private final boolean isDefault;
    private final String bos, eos;
    private final Template compiled;
    private final TemplateException compileError;
    private final Template.Limits limits;
    private final Supplier<LocalDateTime> clock;
    private final ChatSyntax syntax;

    public ChatTemplate(String source, String bosToken, String eosToken) {
        this(source, bosToken, eosToken, false, Template.Limits.DEFAULT, LocalDateTime::now);
    }

    private ChatTemplate(String source, String bosToken, String eosToken, boolean isDefault, Template.Limits limits,
                         Supplier<LocalDateTime> clock) {
        this.source = source;
        this.isDefault = isDefault;
        this.bos = bosToken;
        this.eos = eosToken;
        this.limits = limits;
        this.clock = clock;
        this.syntax = ChatSyntax.of(source);
        Template t = null;
        TemplateException error = null;
        try {
            t = Template.compile(source)
                    .withFunction("raise_exception", (args, kw) -> {
                        throw new TemplateException.Raised(0, args.isEmpty() ? "" : String.valueOf(args.getFirst()));
                    })
                    .withFunction("strftime_now", (args, kw) -> Strftime.format(String.valueOf(args.getFirst()), this.clock.get()));
        } catch (TemplateException e) {
            error = e; // reported when a conversation is rendered: the model still serves plain completions
        }
        this.compiled = t;
        this.compileError = error;
    }

    /** The template of {@code f} ({@code tokenizer.chat_template}), or ChatML when it has none. */
    public static ChatTemplate forModel(GgufFile f, Tokenizer tok) {
        String bos = tok != null && tok.bos() >= 0 ? tok.vocabulary().token(tok.bos()) : "";
        String eos = tok != null && tok.eos() >= 0 ? tok.vocabulary().token(tok.eos()) : "";
        if (f.has("tokenizer.chat_template"))
            return new ChatTemplate(f.getString("tokenizer.chat_template"), bos, eos, false, Template.Limits.DEFAULT, LocalDateTime::now);
        return new ChatTemplate(CHATML, bos, eos, true, Template.Limits.DEFAULT, LocalDateTime::now);
    }

    /** This template with other bounds for each render. */
    public ChatTemplate withLimits(Template.Limits l) {
        return new ChatTemplate(source, bos, eos, isDefault, l, clock);
    }

    /**
     * This template with another clock for {@code strftime_now} (templates that print today's date
     * otherwise make the same conversation a different prompt each day: a fixed clock makes renders
     * reproducible).
     */
    public ChatTemplate withClock(Supplier<LocalDateTime> now) {
        return new ChatTemplate(source, bos, eos, isDefault, limits, now);
    }

    /** Why the template does not compile (null if it does). */
    public String compileError() {
        return compileError == null ? null : compileError.getMessage();
    }

    /** What the template teaches the model about tool calls and thinking ({@link ChatSyntax}). */
    public ChatSyntax syntax() {
        return syntax;
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
        return render(messages, addGenerationPrompt, tools, Map.of());
    }

    /** As above, with extra template variables (chat_template_kwargs); they cannot replace the standard ones. */
    public String render(List<Message> messages, boolean addGenerationPrompt, List<Map<String, Object>> tools, Map<String, Object> extra) {
        if (compileError != null)
            throw new ChatTemplateException("the chat template cannot be rendered (" + where(compileError) + "): " + compileError.detail());
        List<Map<String, Object>> msgs = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("role", m.role());
            mm.put("content", m.content());
            mm.putAll(m.extra());
            msgs.add(mm);
        }
        Map<String, Object> vars = new LinkedHashMap<>(extra);
        vars.put("messages", msgs);
        if (tools != null) vars.put("tools", tools);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("bos_token", bos);
        vars.put("eos_token", eos);
        try {
            return compiled.render(vars, limits);
        } catch (TemplateException.Raised e) {
            throw new ChatTemplateException("the chat template raised an error: " + e.detail());
        } catch (TemplateException.LimitExceeded e) {
            throw new ChatTemplateException("the chat template went past its bounds (" + where(e) + "): " + e.detail());
        } catch (TemplateException e) {
            throw new ChatTemplateException("the chat template cannot be rendered (" + where(e) + "): " + e.detail());
        }
    }

    private static String where(TemplateException e) {
        return e.line() > 0 ? "line " + e.line() : "template";
    }
}
