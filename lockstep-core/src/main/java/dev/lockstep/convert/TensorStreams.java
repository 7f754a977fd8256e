package dev.lockstep.convert;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.gguf.GgufWriter;
import dev.lockstep.quant.Quantize;

import java.util.stream.IntStream;

/**
 * Streams a tensor into a GGUF file: rows come from a {@link RowSource}, are quantized to the target
 * type in parallel chunks, and are written in order. Memory stays bounded (a few chunks) whatever the
 * tensor's size, and the bytes do not depend on the number of threads.
 */
public final class TensorStreams {
    private TensorStreams() {}

    private static final int CHUNK_VALUES = 1 << 20;
    private static final int PARALLEL_CHUNKS = 8;

    public static GgufWriter.TensorSource quantized(GgmlType type, long rowLength, long rows, RowSource src) {
        return sink -> {
            int rowsPerChunk = (int) Math.max(1, CHUNK_VALUES / rowLength);
            long chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
            for (long c0 = 0; c0 < chunks; c0 += PARALLEL_CHUNKS) {
                int n = (int) Math.min(PARALLEL_CHUNKS, chunks - c0);
                long base = c0;
                byte[][] out = new byte[n][];
                IntStream.range(0, n).parallel().forEach(i -> {
                    long first = (base + i) * rowsPerChunk;
                    int count = (int) Math.min(rowsPerChunk, rows - first);
                    float[] f = new float[(int) (count * rowLength)];
                    src.rows(first, count, f);
                    out[i] = Quantize.quantize(type, f);
                });
                for (byte[] b : out) sink.write(b);
            }
        };
    }
}
