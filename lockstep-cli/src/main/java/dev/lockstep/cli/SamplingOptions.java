package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import dev.lockstep.sampling.LogitBias;
import dev.lockstep.sampling.SamplingParams;
import picocli.CommandLine.Option;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Sampling flags, with llama.cpp's defaults. */
final class SamplingOptions {
    @Option(names = {"--temperature", "--temp"}, paramLabel = "T", description = "0 = greedy (default: ${DEFAULT-VALUE})")
    float temperature = 0.8f;

    @Option(names = "--top-k", paramLabel = "K", description = "0 = off (default: ${DEFAULT-VALUE})")
    int topK = 40;

    @Option(names = "--top-p", paramLabel = "P", description = "1 = off (default: ${DEFAULT-VALUE})")
    float topP = 0.95f;

    @Option(names = "--min-p", paramLabel = "P", description = "0 = off (default: ${DEFAULT-VALUE})")
    float minP = 0.05f;

    @Option(names = "--repeat-penalty", paramLabel = "R", description = "1 = off (default: ${DEFAULT-VALUE})")
    float repeatPenalty = 1.0f;

    @Option(names = "--repeat-last-n", paramLabel = "N", description = "tokens the repeat penalty looks back, -1 = all (default: ${DEFAULT-VALUE})")
    int repeatLastN = 64;

    @Option(names = "--frequency-penalty", paramLabel = "F", description = "OpenAI frequency penalty (default: ${DEFAULT-VALUE})")
    float frequencyPenalty = 0f;

    @Option(names = "--presence-penalty", paramLabel = "F", description = "OpenAI presence penalty (default: ${DEFAULT-VALUE})")
    float presencePenalty = 0f;

    @Option(names = {"-l", "--logit-bias"}, paramLabel = "ID(+|-)BIAS",
            description = "add BIAS (at most 100) to token ID's logit, as llama.cpp's flag, e.g. 15043+1 or 2-100 (repeatable)")
    List<String> logitBias = new ArrayList<>();

    @Option(names = {"-s", "--seed"}, paramLabel = "N", description = "random seed (default: a random one, printed so the run can be repeated)")
    Long seed;

    long effectiveSeed() {
        if (seed == null) seed = new SecureRandom().nextLong() & 0xFFFFFFFFL;
        return seed;
    }

    SamplingParams toParams() {
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty,
                presencePenalty, effectiveSeed(), parseLogitBias(logitBias));
    }

    private static final Pattern BIAS = Pattern.compile("(\\d+)([+-]\\d+(?:\\.\\d*)?)");

    static LogitBias parseLogitBias(List<String> specs) {
        Map<Integer, Float> m = new HashMap<>();
        for (String spec : specs) {
            Matcher x = BIAS.matcher(spec.strip());
            if (!x.matches()) throw new LockstepException("--logit-bias '" + spec + "' is not ID+BIAS or ID-BIAS (e.g. 15043+1)");
            int id;
            try {
                id = Integer.parseInt(x.group(1));
            } catch (NumberFormatException e) {
                throw new LockstepException("--logit-bias '" + spec + "': token id " + x.group(1) + " is too large");
            }
            m.merge(id, Float.parseFloat(x.group(2)), Float::sum);
        }
        return LogitBias.of(m);
    }
}
