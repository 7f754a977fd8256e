package dev.lockstep.jmh;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.kernels.Dot;
import dev.lockstep.kernels.MatMul;
import dev.lockstep.kernels.Matrix;
import dev.lockstep.kernels.WorkerPool;
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
 * The kernels that decide decode and prefill speed, per weight type: one row dot product (in cache),
 * a matrix-vector product over a 2048 x 2048 matrix (decode: memory-bound for large matrices), and a
 * 2048 x 2048 matrix times 64 tokens (prefill: compute-bound). Report with {@code -prof gc} off; bytes/s
 * = weight bytes / time, FLOP/s = 2 x rows x cols x tokens / time (printed by {@code bin/lockstep-jmh}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", // JitLimits.FLAGS:
        "-XX:PerMethodTrapLimit=100000", "-XX:PerMethodRecompilationCutoff=100000"})
public class KernelBench {
    @Param({"F32", "F16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    public String type;

    @Param({"2"})
    public int threads;

    static final int ROWS = 2048, COLS = 2048, TOKENS = 64;

    private Arena arena;
    private Matrix matrix;
    private MemorySegment data;
    private GgmlType t;
    private float[] x, xs, y, ys, scratch;
    private WorkerPool pool;
    private MatMul matmul;

    @Setup(Level.Trial)
    public void setup() {
        t = GgmlType.valueOf(type);
        Random rnd = new Random(1);
        arena = Arena.ofShared();
        data = RandomWeights.quantized(arena, t, ROWS * COLS, rnd);
        matrix = new Matrix("w", t, data, ROWS, COLS);
        x = new float[COLS];
        xs = new float[COLS * TOKENS];
        for (int i = 0; i < xs.length; i++) xs[i] = (float) rnd.nextGaussian();
        System.arraycopy(xs, 0, x, 0, COLS);
        y = new float[ROWS];
        ys = new float[ROWS * TOKENS];
        scratch = new float[COLS];
        pool = new WorkerPool(threads);
        matmul = new MatMul(pool);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    /** One row (2048 values) against a vector: the inner loop of every product. */
    @Benchmark
    public float rowDot() {
        return Dot.row(t, data, 7, COLS, x, 0, scratch);
    }

    /** Decode: one token through a 2048 x 2048 matrix. */
    @Benchmark
    public float[] matVec() {
        matmul.apply(matrix, x, 0, COLS, 1, y, 0, ROWS);
        return y;
    }

    /** Batched decode: 8 tokens through the same matrix. */
    @Benchmark
    public float[] gemm8() {
        matmul.apply(matrix, xs, 0, COLS, 8, ys, 0, ROWS);
        return ys;
    }

    /** Prefill: 64 tokens through the same matrix (tiled GEMM). */
    @Benchmark
    public float[] gemm64() {
        matmul.apply(matrix, xs, 0, COLS, TOKENS, ys, 0, ROWS);
        return ys;
    }
}
