package dev.lockstep.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lockstep.engine.Embedder;
import dev.lockstep.kernels.Activations;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code lockstep embed}: one embedding vector per text, as llama.cpp's llama-embedding makes them. */
@Command(name = "embed", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Print the embedding of each TEXT: the model's final hidden states pooled and scaled to unit length.")
final class EmbedCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "TEXT", description = "texts to embed, each on its own")
    List<String> texts;

    @Mixin ModelOptions modelOptions;

    @Option(names = "--pooling", paramLabel = "mean|cls|last", description = "how token vectors become one "
            + "(default: the file's pooling_type, else mean)")
    String pooling;

    @Option(names = "--no-normalize", description = "keep the pooled vector as it is (default: unit length)")
    boolean noNormalize;

    @Option(names = "--activations", paramLabel = "f32|int8", description = "matrix products' activations (default: f32)")
    String activations = "f32";

    @Option(names = "--json", description = "print OpenAI's embeddings list: {\"data\": [{\"embedding\": [...]}], ...}")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (LoadedModel lm = LoadedModel.open(modelOptions.resolve(), true);
             Embedder e = new Embedder(lm.model(), modelOptions.threads, Activations.parse(activations))) {
            Embedder.Pooling p = pooling != null ? Embedder.Pooling.parse(pooling) : e.defaultPooling();
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode reply = mapper.createObjectNode().put("object", "list");
            ArrayNode data = reply.putArray("data");
            long tokens = 0;
            for (int i = 0; i < texts.size(); i++) {
                int[] ids = lm.tokenizer().encode(texts.get(i), true, false);
                tokens += ids.length;
                float[] v = e.embed(ids, p, !noNormalize);
                if (json) {
                    ArrayNode arr = data.addObject().put("object", "embedding").put("index", i).putArray("embedding");
                    for (float x : v) arr.add(x);
                } else {
                    StringBuilder b = new StringBuilder();
                    for (float x : v) b.append(b.isEmpty() ? "" : " ").append(String.format(Locale.ROOT, "%.6f", x));
                    out.println(b);
                }
            }
            if (json) {
                reply.put("model", lm.model().architecture()).put("pooling", p.label());
                reply.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
                out.println(mapper.writeValueAsString(reply));
            }
        }
        return 0;
    }
}
