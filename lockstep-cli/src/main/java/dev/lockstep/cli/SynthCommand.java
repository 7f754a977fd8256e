package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import dev.lockstep.convert.QuantPolicy;
import dev.lockstep.convert.RecurrentSynthesizer;
import dev.lockstep.convert.Synthesizer;
import dev.lockstep.gguf.GgufWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code lockstep synth}: a seeded random-weight model of a real shape, for benchmarks and tests. */
@Command(name = "synth", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Write a random-weight model (seeded, reproducible) of a common shape.")
final class SynthCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "OUT.gguf")
    Path out;

    @Option(names = "--preset", required = true, paramLabel = "NAME",
            description = "llama-3.2-1b, llama-3.2-3b, llama-3.1-8b, qwen3-0.6b, qwen2.5-0.5b, small, tiny; recurrent: "
                    + "mamba-130m, mamba2-370m, ttt-linear-125m, mamba-tiny, mamba2-tiny, ttt-tiny")
    String preset;

    @Option(names = "--arch", paramLabel = "ARCH", description = "llama, mistral, qwen2 or qwen3 (default: the preset's)")
    String arch;

    @Option(names = "--type", paramLabel = "TYPE", description = "F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, ... (default: ${DEFAULT-VALUE})")
    String type = "F16";

    @Option(names = "--pure", description = "give every matrix the --type (no higher-precision output matrix)")
    boolean pure;

    @Option(names = "--seed", paramLabel = "N", description = "random seed (default: ${DEFAULT-VALUE})")
    long seed = 42;

    @Option(names = "--vocab-from", paramLabel = "FILE", description = "copy the tokenizer (and vocabulary size) of this GGUF")
    Path vocabFrom;

    @Override
    public Integer call() {
        QuantPolicy policy = QuantPolicy.parse(type, pure);
        RecurrentSynthesizer.Preset recurrent = RecurrentSynthesizer.find(preset);
        GgufWriter w;
        if (recurrent != null) {
            if (arch != null || vocabFrom != null) throw new LockstepException("--arch and --vocab-from are for the transformer presets");
            w = RecurrentSynthesizer.plan(recurrent, policy, seed);
        } else {
            w = Synthesizer.plan(Synthesizer.preset(preset, arch), policy, seed, vocabFrom);
        }
        try (Progress bar = new Progress("synth " + out.getFileName(), w.totalTensorBytes())) {
            w.write(out, bar::bytes);
        }
        spec.commandLine().getOut().printf("wrote %s: %s %s, %s%n", out, preset, policy.name(), Sizes.human(w.totalTensorBytes()));
        return 0;
    }
}
