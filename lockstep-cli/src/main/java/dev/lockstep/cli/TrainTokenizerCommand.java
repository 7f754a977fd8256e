package dev.lockstep.cli;

import dev.lockstep.train.BpeTrainer;
import dev.lockstep.train.Corpus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code lockstep train-tokenizer}: byte-level BPE on a corpus, written as a GGUF tokenizer. */
@Command(name = "train-tokenizer", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train a byte-level BPE tokenizer (GPT-2 style) on a text file; write it as a GGUF tokenizer.")
final class TrainTokenizerCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "OUT.gguf")
    Path out;

    @Option(names = "--corpus", required = true, paramLabel = "FILE", description = "UTF-8 text")
    Path corpus;

    @Option(names = "--vocab-size", paramLabel = "N", description = "tokens, including the 256 bytes and <|endoftext|> (default: ${DEFAULT-VALUE})")
    int vocabSize = 4096;

    @Override
    public Integer call() {
        long t0 = System.nanoTime();
        BpeTrainer.Result r = BpeTrainer.trainToFile(Corpus.readText(corpus), vocabSize, out);
        spec.commandLine().getOut().printf("wrote %s: %d tokens, %d merges, in %.1f s%n", out, r.tokens().size(), r.merges().size(),
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
