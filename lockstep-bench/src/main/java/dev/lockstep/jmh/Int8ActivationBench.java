package dev.lockstep.jmh;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.kernels.Dot;
import dev.lockstep.kernels.Int8Activations;
import dev.lockstep.kernels.Int8Dot;
import dev.lockstep.quant.Dequant;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The INT8-activation question, measured with the engine's own kernels: a pair of Q8_0 or Q4_0 weight
 * rows (as the decode mat-vec runs them) times activations quantized per block of 32
 * ({@link Int8Dot#rows2}, the {@code --activations int8} mode), against the default f32 path
 * ({@link Dot#rows2}: exactly dequantized weights times f32 activations). Rows of 2048 values, 64
 * rows (in cache). The tear-down prints both paths' RMS error against float64.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", // JitLimits.FLAGS:
        "-XX:PerMethodTrapLimit=100000", "-XX:PerMethodRecompilationCutoff=100000",
        "-XX:CompileCommand=quiet", "-XX:CompileCommand=inline,jdk.internal.foreign.MappedMemorySegmentImpl::dup"})
public class Int8ActivationBench {
    static final int N = 2048, ROWS = 64;

    @Param({"Q8_0", "Q4_0"})
    String type;

    GgmlType t;
    Arena arena;
    MemorySegment w;
    float[] x, xScale, out = new float[2], scratch = new float[256], lanes = new float[32];
    short[] xq;
    Int8Activations acts = new Int8Activations();
    int row;

    @Setup(Level.Trial)
    public void setup() {
        t = GgmlType.valueOf(type);
        Random rnd = new Random(1);
        arena = Arena.ofShared();
        w = RandomWeights.quantized(arena, t, N * ROWS, rnd);
        x = new float[N];
        for (int i = 0; i < N; i++) x[i] = (float) rnd.nextGaussian();
        xq = new short[N];
        xScale = new float[N / 32];
        Int8Activations.quantizeRow(x, 0, N, xq, 0, xScale, 0);
        acts.quantize(x, 0, N, 1, N);
    }

    @Benchmark
    public float int8RowPair() {
        row = (row + 2) % ROWS;
        long rb = t.byteSize(N);
        Int8Dot.rows2(t, w, row * rb, (row + 1) * rb, N, acts, 0, out, 0, 1, lanes);
        return out[0] + out[1];
    }

    @Benchmark
    public float f32RowPair() {
        row = (row + 2) % ROWS;
        Dot.rows2(t, w, row, row + 1, N, x, 0, out, 0, 1, scratch);
        return out[0] + out[1];
    }

    /** Reports the RMS error of both paths against the float64 product of the same dequantized weights, then frees them. */
    @TearDown(Level.Trial)
    public void reportAccuracy() {
        double e8 = 0, e32 = 0, mag = 0;
        float[] wr = new float[N];
        long rb = t.byteSize(N);
        for (int r = 0; r < ROWS; r++) {
            Dequant.dequantize(t, w, r * rb, wr, 0, N);
            double ref = 0;
            for (int i = 0; i < N; i++) ref += (double) wr[i] * x[i];
            double d8 = Int8Dot.rowScalar(t, w, r * rb, N, xq, 0, xScale, 0) - ref, d32 = Dot.row(t, w, r, N, x, 0, scratch) - ref;
            e8 += d8 * d8;
            e32 += d32 * d32;
            mag += ref * ref;
        }
        System.out.printf("%s rows of %d, %d rows: RMS of the exact products %.3e; RMS error vs float64: int8 activations %.3e, f32 activations %.3e%n",
                t, N, ROWS, Math.sqrt(mag / ROWS), Math.sqrt(e8 / ROWS), Math.sqrt(e32 / ROWS));
        arena.close();
    }
}
