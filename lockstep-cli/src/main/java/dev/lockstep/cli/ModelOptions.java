package dev.lockstep.cli;

import dev.lockstep.LockstepException;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code --model} (default: the project's embedded model) and {@code --threads}. */
final class ModelOptions {
    /** Where the embedded default model lives, relative to the project root. */
    static final String DEFAULT_MODEL = "models/lockstep-default.gguf";

    @Option(names = {"-m", "--model"}, paramLabel = "FILE", description = "GGUF model file (default: the embedded model, "
            + DEFAULT_MODEL + "); serve takes it more than once")
    List<Path> models = new ArrayList<>();

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "worker threads (default: all cores)")
    int threads = Runtime.getRuntime().availableProcessors();

    /** The one model of a command that serves one. */
    Path resolve() {
        if (models.size() > 1)
            throw new LockstepException("--model is given " + models.size() + " times; only serve takes several models");
        if (!models.isEmpty()) return models.getFirst();
        String root = System.getProperty("lockstep.root", ".");
        Path p = Path.of(root).resolve(DEFAULT_MODEL);
        if (!Files.exists(p))
            throw new LockstepException("no --model given and the embedded default model " + p + " is not there; "
                    + "pass --model path/to/model.gguf");
        return p;
    }
}
