package dev.lockstep.cli;

import dev.lockstep.convert.QuantPolicy;
import dev.lockstep.convert.Quantizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code lockstep quantize}: weight-only quantization of a GGUF file. */
@Command(name = "quantize", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Rewrite IN.gguf with its weights quantized (norms stay F32; the output matrix gets more bits, as llama-quantize).")
final class QuantizeCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IN.gguf")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT.gguf")
    Path out;

    @Option(names = "--type", required = true, paramLabel = "TYPE",
            description = "Q8_0, Q6_K, Q5_K_M, Q5_K, Q5_1, Q5_0, Q4_K_M, Q4_K, Q4_1, Q4_0, BF16, F16, F32")
    String type;

    @Option(names = "--pure", description = "every matrix gets --type (like llama-quantize --pure)")
    boolean pure;

    @Override
    public Integer call() {
        QuantPolicy policy = QuantPolicy.parse(type, pure);
        Progress[] bar = new Progress[1];
        try {
            Quantizer.quantize(in, out, policy, done -> bar[0].bytes(done), total -> bar[0] = new Progress("quantize " + out.getFileName(), total));
        } finally {
            if (bar[0] != null) bar[0].close();
        }
        spec.commandLine().getOut().printf("wrote %s (%s)%n", out, policy.name());
        return 0;
    }
}
