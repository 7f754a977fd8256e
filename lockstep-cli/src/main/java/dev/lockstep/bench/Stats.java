package dev.lockstep.bench;

import java.util.Arrays;

/** Median and spread of repeated measurements. */
public record Stats(double median, double min, double max, int n) {
    public static Stats of(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        double med = s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        return new Stats(med, s[0], s[s.length - 1], s.length);
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "%.2f (%.2f-%.2f)", median, min, max);
    }
}
