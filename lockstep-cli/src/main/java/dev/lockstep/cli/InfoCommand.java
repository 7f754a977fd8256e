package dev.lockstep.cli;

import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.GgufValue;
import dev.lockstep.gguf.TensorInfo;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code lockstep info}: what a GGUF file holds. */
@Command(name = "info", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Show a model's architecture, hyper-parameters, tokenizer and tensors.")
final class InfoCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin ModelOptions modelOptions;

    @Option(names = "--metadata", description = "also print every metadata key")
    boolean metadata;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (GgufFile f = GgufFile.open(modelOptions.resolve())) {
            out.printf("file        %s (%s, GGUF v%d, %d metadata keys, %d tensors)%n", f.path(), Sizes.human(f.fileSize()),
                    f.version(), f.metadata().size(), f.tensors().size());
            if (f.has("general.name")) out.printf("name        %s%n", f.getString("general.name"));
            Model m = ModelLoader.load(f);
            out.printf("model       %s%n", m.describe());
            Tokenizer tok = Tokenizer.fromGguf(f);
            out.printf("tokenizer   %s%n", tok == null ? "none" : tok.describe());
            out.printf("template    %s%n", f.has("tokenizer.chat_template") ? "yes (tokenizer.chat_template)" : "none (ChatML is used)");
            Map<String, long[]> byType = new TreeMap<>();
            for (TensorInfo t : f.tensors().values()) {
                long[] c = byType.computeIfAbsent(t.type().name(), k -> new long[2]);
                c[0]++;
                c[1] += t.byteSize();
            }
            StringBuilder types = new StringBuilder();
            byType.forEach((k, v) -> types.append(types.isEmpty() ? "" : ", ").append(v[0]).append(" ").append(k)
                    .append(" (").append(Sizes.human(v[1])).append(")"));
            out.printf("types       %s%n%n", types);
            out.printf("%-40s %-6s %-22s %s%n", "tensor", "type", "shape", "size");
            for (TensorInfo t : f.tensors().values())
                out.printf("%-40s %-6s %-22s %s%n", t.name(), t.type(), t.shapeString(), Sizes.human(t.byteSize()));
            if (metadata) {
                out.println();
                for (Map.Entry<String, GgufValue> e : f.metadata().entrySet()) {
                    Object v = e.getValue().value();
                    String s = v instanceof GgufValue.GgufArray a ? a.toString() : String.valueOf(v);
                    if (s.length() > 120) s = s.substring(0, 117).replace("\n", "\\n") + "...";
                    out.printf("%-48s %s%n", e.getKey(), s.replace("\n", "\\n"));
                }
            }
        }
        return 0;
    }
}
