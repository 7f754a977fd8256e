package dev.lockstep.convert;

import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgmlType;

import java.util.List;
import java.util.Locale;

/**
 * Which GGML type each tensor gets, like llama.cpp's llama-quantize: norms, biases and other 1-D
 * tensors stay F32; the output matrix (or the tied embedding) gets Q6_K unless the base type is already
 * 8 bits or more; the "_M" mixes give attn_v and ffn_down Q6_K in the layers that matter most; rows
 * that do not fit a K-quant block fall back as llama.cpp does (Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to
 * Q8_0, then F16).
 *
 * @param base  the type of most weights
 * @param mix   "_M" mixes (Q4_K_M, Q5_K_M) raise attn_v/ffn_down in some layers
 * @param pure  every 2-D weight gets {@code base} (llama-quantize --pure)
 */
public record QuantPolicy(String name, GgmlType base, boolean mix, boolean pure) {

    public static final List<String> NAMES = List.of("F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K", "Q5_1", "Q5_0",
            "Q4_K_M", "Q4_K", "Q4_1", "Q4_0");

    /** Parses a type or mix name (case-insensitive), e.g. {@code Q4_K_M} or {@code q8_0}. */
    public static QuantPolicy parse(String s, boolean pure) {
        String u = s.toUpperCase(Locale.ROOT);
        return switch (u) {
            case "Q4_K_M" -> new QuantPolicy(u, GgmlType.Q4_K, true, pure);
            case "Q5_K_M" -> new QuantPolicy(u, GgmlType.Q5_K, true, pure);
            case "Q4_K_S" -> new QuantPolicy(u, GgmlType.Q4_K, false, pure);
            case "Q5_K_S" -> new QuantPolicy(u, GgmlType.Q5_K, false, pure);
            default -> {
                GgmlType t = GgmlType.byName(u);
                if (t == null || !t.computable || !NAMES.contains(u))
                    throw new LockstepException("unknown --type '" + s + "'; supported: " + String.join(", ", NAMES));
                yield new QuantPolicy(u, t, false, pure);
            }
        };
    }

    /** llama.cpp's use_more_bits: the first and last eighth of the layers and every third in between. */
    static boolean moreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    /**
     * The type of tensor {@code name} with {@code dims} (innermost first), in a model of {@code layers}
     * layers whose output matrix is the embedding when {@code tied}.
     */
    public GgmlType typeFor(String name, long[] dims, int layers, boolean tied) {
        if (dims.length < 2 || !name.endsWith(".weight") || name.startsWith("rope_") || name.contains("_norm")
                || name.contains("ssm_conv1d") || name.contains("ssm_a") || name.contains("ssm_d")) return GgmlType.F32;
        GgmlType t = base;
        if (!pure) {
            boolean output = name.equals("output.weight") || (tied && name.equals("token_embd.weight"));
            if (output && base != GgmlType.F32 && base != GgmlType.F16 && base != GgmlType.BF16 && base != GgmlType.Q8_0) {
                t = GgmlType.Q6_K;
            } else if (mix && (name.endsWith("attn_v.weight") || name.endsWith("ffn_down.weight"))
                    && moreBits(layerOf(name), layers)) {
                t = GgmlType.Q6_K;
            }
        }
        return fallback(t, dims[0]);
    }

    static int layerOf(String name) {
        if (!name.startsWith("blk.")) return 0;
        return Integer.parseInt(name.substring(4, name.indexOf('.', 4)));
    }

    /** A type whose block fits a row of {@code rowLength} values. */
    static GgmlType fallback(GgmlType t, long rowLength) {
        if (rowLength % t.blockSize == 0) return t;
        GgmlType f = switch (t) {
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> GgmlType.F16;
        };
        return rowLength % f.blockSize == 0 ? f : GgmlType.F16;
    }

    /** The llama.cpp {@code general.file_type} id of this mix (LLAMA_FTYPE_*). */
    public int fileType() {
        return switch (name) {
            case "F32" -> 0;
            case "F16" -> 1;
            case "Q4_0" -> 2;
            case "Q4_1" -> 3;
            case "Q8_0" -> 7;
            case "Q5_0" -> 8;
            case "Q5_1" -> 9;
            case "Q4_K_S", "Q4_K" -> 14;
            case "Q4_K_M" -> 15;
            case "Q5_K_S", "Q5_K" -> 16;
            case "Q5_K_M" -> 17;
            case "Q6_K" -> 18;
            case "BF16" -> 32;
            default -> 0;
        };
    }
}
