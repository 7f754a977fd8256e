package dev.lockstep.sampling;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * OpenAI's {@code logit_bias}: a value in [-100, 100] added to chosen tokens' logits before anything
 * else the sampler does (penalties, temperature, filters; greedy decoding too). -100 in practice bans a
 * token, +100 forces it. Immutable, kept sorted by token id so that two equal maps are equal values.
 * Logprobs stay the model's own: the engine computes them from the logits before any sampling step.
 */
public final class LogitBias {
    public static final LogitBias NONE = new LogitBias(new int[0], new float[0]);
    public static final float LIMIT = 100f;

    private final int[] ids;
    private final float[] bias;

    private LogitBias(int[] ids, float[] bias) {
        this.ids = ids;
        this.bias = bias;
    }

    /** From token id to bias; every id must be >= 0 and every bias finite within [-100, 100]. */
    public static LogitBias of(Map<Integer, Float> m) {
        if (m.isEmpty()) return NONE;
        TreeMap<Integer, Float> sorted = new TreeMap<>(m);
        int[] ids = new int[sorted.size()];
        float[] bias = new float[sorted.size()];
        int i = 0;
        for (Map.Entry<Integer, Float> e : sorted.entrySet()) {
            int id = e.getKey();
            float b = e.getValue();
            if (id < 0) throw new SamplingParams.InvalidParameterException("logit_bias", "logit_bias token id " + id + " is negative");
            if (!(b >= -LIMIT && b <= LIMIT))
                throw new SamplingParams.InvalidParameterException("logit_bias",
                        "logit_bias of token " + id + " must be between -100 and 100, got " + b);
            ids[i] = id;
            bias[i++] = b;
        }
        return new LogitBias(ids, bias);
    }

    public boolean isEmpty() {
        return ids.length == 0;
    }

    public int size() {
        return ids.length;
    }

    /** The largest token id biased (-1 when empty); the engine rejects a request whose id is past the vocabulary. */
    public int maxId() {
        return ids.length == 0 ? -1 : ids[ids.length - 1];
    }

    /** Adds the biases to {@code l[0..)}: one float addition per biased token, in id order. */
    void apply(float[] l) {
        for (int i = 0; i < ids.length; i++) l[ids[i]] += bias[i];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LogitBias b && Arrays.equals(ids, b.ids) && Arrays.equals(bias, b.bias);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + Arrays.hashCode(bias);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < ids.length; i++) sb.append(i == 0 ? "" : ", ").append(ids[i]).append('=').append(bias[i]);
        return sb.append('}').toString();
    }
}
