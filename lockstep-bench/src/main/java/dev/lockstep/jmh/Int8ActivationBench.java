package dev.lockstep.jmh;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.kernels.Activations;
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
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The INT8-activation question per path, with the engine's own products: the same 2048 x 2048 matrix
 * through {@link MatMul} in both modes ({@code activations=F32}: exactly dequantized weights times
 * f32 activations; {@code INT8}: the rearranged copy times activations quantized per block of 32,
 * {@code Int8Gemm}), for one token (decode), four (a short speculative verification or four
 * sequences), eight (batched decode) and 64 (a prompt chunk). Both modes run in one fork, so the
 * table compares them on the same machine state; the weights fit in L3, so this is the products'
 * compute rate, not the memory's ({@code bin/lockstep bench} measures whole models).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", // JitLimits.FLAGS:
        "-XX:PerMethodTrapLimit=100000", "-XX:PerMethodRecompilationCutoff=100000"})
public class Int8ActivationBench {
    static final int ROWS = 2048, COLS = 2048;

    @Param({"Q4_0", "Q4_K", "Q6_K"})
    public String type;

    @Param({"F32", "INT8"})
    public String activations;

    @Param({"1", "4", "8", "64"})
    public int tokens;

    @Param({"2"})
    public int threads;

    private Arena arena;
    private Matrix matrix;
    private float[] x, y;
    private WorkerPool pool;
    private MatMul matmul;

    @Setup(Level.Trial)
    public void setup() {
        GgmlType t = GgmlType.valueOf(type);
        Random rnd = new Random(1);
        arena = Arena.ofShared();
        matrix = new Matrix("w", t, RandomWeights.quantized(arena, t, ROWS * COLS, rnd), ROWS, COLS);
        x = new float[COLS * tokens];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        y = new float[ROWS * tokens];
        pool = new WorkerPool(threads);
        matmul = new MatMul(pool, Activations.valueOf(activations));
        matmul.apply(matrix, x, 0, COLS, tokens, y, 0, ROWS); // INT8: the rearranged copy is made here, not timed
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public float[] product() {
        matmul.apply(matrix, x, 0, COLS, tokens, y, 0, ROWS);
        return y;
    }
}
