package dev.lockstep.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code lockstep distill}: train a smaller student on a teacher's output distribution. */
@Command(name = "distill", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Distill a smaller student from a teacher GGUF (KL to the teacher's soft targets); the tokenizer is the teacher's.")
final class DistillCommand extends TrainCommand {
    @Option(names = "--teacher", required = true, paramLabel = "T.gguf", description = "the teacher model")
    void setTeacher(Path t) {
        this.teacher = t;
    }

    @Option(names = "--temperature", description = "softmax temperature of the soft targets (default: 2)")
    void setTemperature(float t) {
        this.temperature = t;
    }

    DistillCommand() {
        this.temperature = 2f;
    }
}
