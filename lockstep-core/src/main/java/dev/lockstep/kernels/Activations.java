package dev.lockstep.kernels;

import java.util.Locale;

/**
 * How matrix products treat activations: {@link #F32} (the default) multiplies exactly dequantized
 * weights with f32 activations; {@link #INT8} quantizes activations per block of 32 for Q4_0, Q4_K,
 * Q5_K and Q6_K matrices and multiplies integers ({@link Int8Gemm}, on a rearranged copy of each
 * matrix, {@link Int8Weights}), as llama.cpp does for these types; other types (Q8_0, F16, ...) keep
 * the f32 products. Either mode keeps every invariance guarantee; outputs differ between the modes
 * (on the default model quantized to Q4_0: held-out loss 3.2923 vs 3.2926, README "INT8 activations").
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
