package dev.lockstep.kernels;

import dev.lockstep.gguf.GgmlType;
import dev.lockstep.quant.Dequant;
import dev.lockstep.quant.DequantTestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The register tiles of both vector families (512-bit 4x4, 256-bit 3x3 in two passes) and the 256-bit
 * dequantization give the reference bits on every machine, whatever family this JVM dispatches to
 * ({@link MatMulTest} covers the dispatched path end to end).
 */
class GemmTest {

    @Test
    void bothRegisterTilesGiveCanonicalDots() {
        Random r = new Random(7);
        for (int k : new int[]{16, 48, 2048}) {
            float[] w = new float[4 * k + 5], x = new float[4 * k + 3];
            for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            int[] wo = {5, 5 + k, 5 + 2 * k, 5 + 3 * k}, xo = {3, 3 + k, 3 + 2 * k, 3 + 3 * k};
            float[] y4 = new float[16], y3 = new float[9], lanes = new float[256];
            Gemm.kernel4x4(w, wo[0], wo[1], wo[2], wo[3], x, xo[0], xo[1], xo[2], xo[3], k, y4, 0, 4, 1, 4, 4, lanes);
            float[] ws = new float[w.length], xsplit = new float[x.length];
            for (int i = 0; i < 4; i++) {
                Gemm.splitHalves(w, wo[i], ws, wo[i], k);
                Gemm.splitHalves(x, xo[i], xsplit, xo[i], k);
            }
            Gemm.kernel3x3x256(ws, wo[0], wo[1], wo[2], xsplit, xo[0], xo[1], xo[2], k, y3, 0, 3, 1, 3, 3, lanes);
            for (int row = 0; row < 4; row++)
                for (int t = 0; t < 4; t++) {
                    float want = Canonical.dotScalar(w, wo[row], x, xo[t], k);
                    assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(y4[row * 4 + t]), "4x4 k=" + k + " (" + row + "," + t + ")");
                    if (t < 3 && row < 3)
                        assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(y3[row * 3 + t]), "3x3 k=" + k + " (" + row + "," + t + ")");
                }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void the256BitDequantizationGivesTheReferenceFloats(GgmlType type) {
        int n = 512;
        byte[] bytes = DequantTestData.randomBlocks(type, (int) (type.byteSize(n) / type.typeSize), type.id + 11);
        MemorySegment seg = MemorySegment.ofArray(bytes);
        float[] want = new float[n], got = new float[n + 2];
        Dequant.dequantizeRow(type, seg, 0, n, want, 0);
        DequantVec.segment256(type, seg, 0, n, got, 2);
        for (int i = 0; i < n; i++)
            assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(got[i + 2]), type + " value " + i);
    }

    /**
     * The 256-bit in-register dequantizing kernels, on any machine: two rows by a four-token panel
     * ({@code run}) and one row by an eight-token panel ({@code run8}), with absent tokens, give every
     * output the reference bits.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void the256BitPanelKernelsGiveCanonicalDots(GgmlType type) {
        int n = 256, rows = 3;
        Random r = new Random(type.id + 17);
        MemorySegment seg = MemorySegment.ofArray(DequantTestData.randomBlocks(type, (int) (type.byteSize((long) rows * n) / type.typeSize), 23));
        long rb = type.byteSize(n);
        for (int count : new int[]{3, 4, 5, 8}) {
            float[] x = new float[count * n];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            float[] lanes = new float[128], deq = new float[n];
            boolean wide = count > DequantGemm256.TOKENS;
            int per = wide ? DequantGemm256.WIDE_TOKENS : DequantGemm256.TOKENS;
            float[] panel = new float[DequantGemm256.panelSize(per, n)];
            DequantGemm256.pack(per, x, 0, n, count, n, panel, 0);
            if (wide) DequantGemm256.run8(type, seg, rb, n, panel, 0, lanes);
            else DequantGemm256.run(type, seg, 0, 2 * rb, n, panel, 0, lanes);
            for (int t = 0; t < count; t++)
                for (int k = 0; k < (wide ? 1 : 2); k++) {
                    int row = wide ? 1 : 2 * k;
                    Dequant.dequantizeRow(type, seg, row, n, deq, 0);
                    float want = Canonical.dotScalar(deq, 0, x, t * n, n);
                    float got = Canonical.treeOf(lanes, (wide ? 0 : 64 * k) + 16 * t);
                    assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got), type + " " + count + " tokens, row " + row + " token " + t);
                }
        }
    }
}
