package dev.lockstep.model;

import dev.lockstep.gguf.GgufException;
import dev.lockstep.gguf.GgufFile;

import java.util.List;

/** Builds the right {@link Model} for a GGUF file from its {@code general.architecture}. */
public final class ModelLoader {
    private ModelLoader() {}

    public static final List<String> ARCHITECTURES = List.of("llama", "mistral", "qwen2", "qwen3", "mamba", "mamba2", "ttt");

    public static Model load(GgufFile f) {
        String arch = f.architecture();
        return switch (arch) {
            case "llama", "mistral", "qwen2", "qwen3" -> new Transformer(f, arch);
            case "mamba", "mamba2" -> new Mamba(f, arch);
            case "ttt" -> new Ttt(f);
            default -> throw new GgufException(f.path(), "unknown architecture '" + arch + "'; supported: "
                    + String.join(", ", ARCHITECTURES));
        };
    }
}
