package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code lockstep detokenize}: token ids back to text. */
@Command(name = "detokenize", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Print the text of token IDS (arguments, or whitespace/comma separated on standard input).")
final class DetokenizeCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "IDS", arity = "0..*", description = "token ids")
    List<String> ids = new ArrayList<>();

    @Mixin ModelOptions modelOptions;

    @Option(names = "--special", description = "render control tokens (e.g. <s>) as their text")
    boolean special;

    @Override
    public Integer call() throws Exception {
        List<String> parts = new ArrayList<>(ids);
        if (parts.isEmpty()) parts.add(new String(System.in.readAllBytes(), StandardCharsets.UTF_8));
        List<Integer> list = new ArrayList<>();
        for (String p : parts)
            for (String s : p.replaceAll("[\\[\\],]", " ").trim().split("\\s+")) {
                if (s.isEmpty()) continue;
                try {
                    list.add(Integer.parseInt(s));
                } catch (NumberFormatException e) {
                    throw new LockstepException("'" + s + "' is not a token id");
                }
            }
        PrintWriter out = spec.commandLine().getOut();
        try (GgufFile f = GgufFile.open(modelOptions.resolve())) {
            Tokenizer tok = LoadedModel.tokenizerOnly(f);
            int[] a = list.stream().mapToInt(Integer::intValue).toArray();
            for (int id : a)
                if (id < 0 || id >= tok.size()) throw new LockstepException("token id " + id + " is outside the vocabulary [0, " + tok.size() + ")");
            out.println(tok.decode(a, special));
        }
        return 0;
    }
}
