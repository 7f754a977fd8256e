package dev.lockstep.cli;

import dev.lockstep.engine.Engine;
import dev.lockstep.engine.FinishReason;
import dev.lockstep.engine.GenerationEvent;
import dev.lockstep.engine.GenerationRequest;
import dev.lockstep.engine.GenerationResult;
import dev.lockstep.tokenizer.ChatTemplate;
import dev.lockstep.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code lockstep chat}: an interactive conversation through the model's chat template. Each turn
 * re-renders the whole conversation; the prefix cache makes the earlier turns free.
 */
@Command(name = "chat", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Chat with the model (its own chat template; ChatML if the file has none). /reset starts over, /exit quits.")
final class ChatCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;


    @Mixin ModelOptions modelOptions;

    @Option(names = "--system", paramLabel = "TEXT", description = "system prompt")
    String system;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", description = "tokens per reply at most (default: ${DEFAULT-VALUE})")
    int maxTokens = 512;

    @Mixin SamplingOptions sampling;

    @Mixin EngineOptions engineOptions;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        boolean interactive = System.console() != null;
        try (LoadedModel lm = LoadedModel.open(modelOptions.resolve(), true);
             LoadedModel dm = engineOptions.openDraft();
             Engine engine = new Engine(lm.model(), lm.tokenizer(), engineOptions.toConfig(modelOptions.threads).withMaxSeqs(1),
                     dm == null ? null : dm.model())) {
            Tokenizer tok = lm.tokenizer();
            ChatTemplate template = ChatTemplate.forModel(lm.file(), tok);
            spec.commandLine().getErr().println("lockstep chat: " + lm.model().architecture() + ", " + (template.isDefault()
                    ? "no chat template in the file: using ChatML" : "the model's chat template") + ", seed "
                    + sampling.effectiveSeed() + ". /reset starts over, /exit quits.");
            List<ChatTemplate.Message> messages = new ArrayList<>();
            if (system != null) messages.add(new ChatTemplate.Message("system", system));
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            int turn = 0;
            while (true) {
                if (interactive) {
                    out.print("> ");
                    out.flush();
                }
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) break;
                if (line.strip().equals("/reset")) {
                    messages.clear();
                    if (system != null) messages.add(new ChatTemplate.Message("system", system));
                    out.println("(conversation reset)");
                    continue;
                }
                if (line.isBlank()) continue;
                messages.add(new ChatTemplate.Message("user", line));
                int[] ids = tok.encodeChat(template.render(messages, true));
                int ctx = lm.model().contextLength();
                if (ids.length >= ctx - 1) {
                    out.println("(the conversation is longer than the context of " + ctx + " tokens; /reset to start over)");
                    messages.removeLast();
                    continue;
                }
                int n = Math.min(maxTokens, ctx - ids.length);
                GenerationRequest req = new GenerationRequest(ids, sampling.toParams(), n, List.of(), false, -1, false, turn++);
                GenerationResult r = engine.submit(req).await(e -> {
                    if (e instanceof GenerationEvent.Token t) {
                        out.print(t.text());
                        out.flush();
                    }
                    else if (e instanceof GenerationEvent.Finished f) out.print(f.text());
                });
                out.println();
                if (r.reason().failed() && r.reason() != FinishReason.CANCELLED) spec.commandLine().getErr().println("lockstep: " + r.finish().message());
                messages.add(new ChatTemplate.Message("assistant", r.text()));
            }
        }
        return 0;
    }

}
