package dev.lockstep.jmh;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.kernels.Canonical;
import dev.lockstep.kernels.Dot;
import dev.lockstep.quant.Dequant;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The INT8-activation question, measured: Q8_0 weight rows times activations quantized to int8 per
 * block of 32 (as llama.cpp does), integer products, FP32 accumulation of the per-block sums — against
 * the engine's W8A32 kernel (exactly dequantized weights times f32 activations). The Vector API has no
 * integer dot-product instruction (VNNI {@code vpdpbusd}, {@code vpmaddwd}), so the integer path
 * widens to 16 bits, multiplies, and adds pairs by shifts: as many instructions as the float path.
 * Not used by the engine. Each trial also prints both paths' errors against float64.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class Int8ActivationBench {
    static final int N = 2048, ROWS = 64;
    private static final VectorSpecies<Byte> B256 = ByteVector.SPECIES_256;
    private static final VectorSpecies<Short> S512 = ShortVector.SPECIES_512;
    private static final VectorSpecies<Float> F512 = FloatVector.SPECIES_512;

    Arena arena;
    MemorySegment w;
    float[] x, xScale, scratch = new float[256];
    short[] xq;
    int row;

    @Setup(Level.Trial)
    public void setup() {
        Random rnd = new Random(1);
        arena = Arena.ofShared();
        w = RandomWeights.quantized(arena, GgmlType.Q8_0, N * ROWS, rnd);
        x = new float[N];
        for (int i = 0; i < N; i++) x[i] = (float) rnd.nextGaussian();
        xq = new short[N];
        xScale = new float[N / 32];
        for (int b = 0; b < N / 32; b++) { // round to nearest on the block's absmax / 127, as llama.cpp's Q8_0
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
            xScale[b] = amax / 127f;
            for (int j = 0; j < 32; j++) xq[32 * b + j] = (short) (amax == 0 ? 0 : Math.round(x[32 * b + j] / xScale[b]));
        }
    }

    /** Q8_0 row . int8 activations: per block, 32 16-bit products summed in pairs, then scaled into 16 float lanes. */
    static float int8Row(MemorySegment w, long off, int n, short[] xq, float[] xScale) {
        FloatVector acc = FloatVector.zero(F512);
        for (int k = 0, b = 0; k < n; k += 32, b++, off += 34) {
            ShortVector wv = (ShortVector) ByteVector.fromMemorySegment(B256, w, off + 2, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S512, 0);
            IntVector p = wv.mul(ShortVector.fromArray(S512, xq, k)).reinterpretAsInts();
            IntVector s = p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16));
            acc = ((FloatVector) s.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F512, Dequant.f16(w, off) * xScale[b]), acc);
        }
        return Canonical.tree(acc);
    }

    @Benchmark
    public float int8Activations() {
        row = (row + 1) % ROWS;
        return int8Row(w, row * GgmlType.Q8_0.byteSize(N), N, xq, xScale);
    }

    @Benchmark
    public float f32Activations() {
        row = (row + 1) % ROWS;
        return Dot.row(GgmlType.Q8_0, w, row, N, x, 0, scratch);
    }

    /** Reports the RMS error of both paths against the float64 product of the same dequantized weights, then frees them. */
    @TearDown(Level.Trial)
    public void reportAccuracy() {
        double e8 = 0, e32 = 0, mag = 0;
        float[] wr = new float[N];
        for (int r = 0; r < ROWS; r++) {
            long off = r * GgmlType.Q8_0.byteSize(N);
            Dequant.dequantize(GgmlType.Q8_0, w, off, wr, 0, N);
            double ref = 0;
            for (int i = 0; i < N; i++) ref += (double) wr[i] * x[i];
            double d8 = int8Row(w, off, N, xq, xScale) - ref, d32 = Dot.row(GgmlType.Q8_0, w, r, N, x, 0, scratch) - ref;
            e8 += d8 * d8;
            e32 += d32 * d32;
            mag += ref * ref;
        }
        System.out.printf("Q8_0 rows of %d, %d rows: RMS of the exact products %.3e; RMS error vs float64: int8 activations %.3e, f32 activations %.3e%n",
                N, ROWS, Math.sqrt(mag / ROWS), Math.sqrt(e8 / ROWS), Math.sqrt(e32 / ROWS));
        arena.close();
    }
}
