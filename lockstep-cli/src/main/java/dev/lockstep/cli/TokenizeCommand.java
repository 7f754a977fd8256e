package dev.lockstep.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code lockstep tokenize}: text to token ids with the model's tokenizer. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Print the token ids of TEXT (or standard input).")
final class TokenizeCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "TEXT", description = "text; '-' or absent: standard input")
    String text;

    @Mixin ModelOptions modelOptions;

    @Option(names = "--json", description = "print {\"token_ids\": [...]}")
    boolean json;

    @Option(names = "--no-special", description = "add no BOS/EOS (as llama.cpp's tokenizer test vectors)")
    boolean noSpecial;

    @Option(names = "--parse-special", description = "recognise special tokens such as <|im_start|> written in the text")
    boolean parseSpecial;

    @Override
    public Integer call() throws Exception {
        String t = text == null || text.equals("-") ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8) : text;
        PrintWriter out = spec.commandLine().getOut();
        try (GgufFile f = GgufFile.open(modelOptions.resolve())) {
            Tokenizer tok = LoadedModel.tokenizerOnly(f);
            int[] ids = tok.encode(t, !noSpecial, parseSpecial);
            if (json) {
                out.println(new ObjectMapper().writeValueAsString(Map.of("token_ids", ids)));
            } else {
                for (int id : ids)
                    out.printf("%6d '%s'%n", id, new String(tok.piece(id, true), StandardCharsets.UTF_8).replace("\n", "\\n"));
            }
        }
        return 0;
    }
}
