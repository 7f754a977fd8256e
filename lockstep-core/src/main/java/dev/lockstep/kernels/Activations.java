package dev.lockstep.kernels;

import java.util.Locale;

/**
 * How matrix products treat activations: {@link #F32} (the default) multiplies exactly dequantized
 * weights with f32 activations; {@link #INT8} quantizes activations per block of 32 for Q8_0 and Q4_0
 * matrices and multiplies integers ({@link Int8Dot}), as llama.cpp does: faster decoding on AVX2,
 * less accurate. Either mode keeps every invariance guarantee; outputs differ between the modes.
 */
public enum Activations {
    F32, INT8;

    /** {@code f32} or {@code int8} (any case); otherwise an error naming the accepted values. */
    public static Activations parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "f32" -> F32;
            case "int8" -> INT8;
            default -> throw new IllegalArgumentException("activations must be f32 or int8, not '" + s + "'");
        };
    }

    /** The name users type: {@code f32} or {@code int8}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
