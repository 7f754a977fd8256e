package dev.lockstep.convert;

import dev.lockstep.LockstepException;
import dev.lockstep.gguf.GgmlType;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.gguf.GgufValue;
import dev.lockstep.gguf.GgufWriter;
import dev.lockstep.gguf.TensorInfo;
import dev.lockstep.quant.Dequant;

import java.nio.file.Path;
import java.util.function.LongConsumer;

/**
 * {@code lockstep quantize}: rewrites a GGUF file with its weights in another type (weight-only
 * quantization), following a {@link QuantPolicy}. Metadata is copied; {@code general.file_type} is set.
 * Source tensors of any computable type are dequantized row by row with the reference dequantizer.
 */
public final class Quantizer {
    private Quantizer() {}

    public static GgufWriter plan(GgufFile in, QuantPolicy policy) {
        if (!in.has(GgufFile.KEY_ARCHITECTURE)) throw new LockstepException(in.path() + ": no general.architecture key");
        String arch = in.architecture();
        int layers = in.getInt(arch + ".block_count", 0);
        boolean tied = in.tensor("output.weight") == null;
        GgufWriter w = new GgufWriter();
        in.metadata().forEach((k, v) -> {
            if (!k.equals(GgufFile.KEY_ALIGNMENT)) w.put(k, v);
        });
        w.put("general.file_type", GgufValue.ofUInt32(policy.fileType()));
        w.put("general.quantization_version", GgufValue.ofUInt32(2));
        for (TensorInfo t : in.tensors().values()) {
            if (!t.type().computable)
                throw new LockstepException(in.path() + ": tensor '" + t.name() + "' has type " + t.type()
                        + ", which Lockstep cannot read; supported: " + GgmlType.computableNames());
            GgmlType target = t.type() == GgmlType.F32 && t.nDims() < 2 ? GgmlType.F32 : policy.typeFor(t.name(), t.dims(), layers, tied);
            if (target == t.type()) {
                w.addTensor(t.name(), t.type(), t.dims(), s -> s.write(in.tensorData(t)));
                continue;
            }
            int cols = (int) t.rowLength();
            long rows = t.rowCount();
            var data = in.tensorData(t);
            GgmlType src = t.type();
            RowSource rowsSrc = (first, count, out) -> {
                for (int r = 0; r < count; r++) Dequant.dequantizeRow(src, data, first + r, cols, out, r * cols);
            };
            w.addTensor(t.name(), target, t.dims(), TensorStreams.quantized(target, cols, rows, rowsSrc));
        }
        return w;
    }

    public static void quantize(Path input, Path output, QuantPolicy policy, LongConsumer progress, LongConsumer total) {
        if (input.toAbsolutePath().normalize().equals(output.toAbsolutePath().normalize()))
            throw new LockstepException("the output file must differ from the input file " + input);
        try (GgufFile in = GgufFile.open(input)) {
            GgufWriter w = plan(in, policy);
            total.accept(w.totalTensorBytes());
            w.write(output, progress);
        }
    }
}
