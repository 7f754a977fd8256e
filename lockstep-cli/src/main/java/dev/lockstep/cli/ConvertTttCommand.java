package dev.lockstep.cli;

import dev.lockstep.convert.TttConverter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code lockstep convert-ttt}: a TTT checkpoint in the reference PyTorch layout to a {@code ttt} GGUF. */
@Command(name = "convert-ttt", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Convert a TTT-Linear/TTT-MLP checkpoint (ttt-lm-pytorch: config.json + model.safetensors) to GGUF.")
final class ConvertTttCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", required = true, paramLabel = "config.json", description = "the model's config.json")
    Path config;

    @Option(names = "--checkpoint", required = true, paramLabel = "model.safetensors", description = "the weights")
    Path checkpoint;

    @Option(names = "--vocab-from", paramLabel = "FILE.gguf", description = "copy the tokenizer of this GGUF (default: none)")
    Path vocabFrom;

    @Parameters(index = "0", paramLabel = "OUT.gguf")
    Path out;

    @Override
    public Integer call() {
        TttConverter.convert(config, checkpoint, vocabFrom, out);
        spec.commandLine().getOut().println("wrote " + out);
        return 0;
    }
}
