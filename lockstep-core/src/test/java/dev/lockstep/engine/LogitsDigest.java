package dev.lockstep.engine;

import dev.lockstep.cache.KvCache;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.Activations;
import dev.lockstep.kernels.Canonical;
import dev.lockstep.kernels.Ops;
import dev.lockstep.kernels.WorkerPool;
import dev.lockstep.model.ForwardBatch;
import dev.lockstep.model.Model;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.model.ModelRunner;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Run in a child JVM by {@code JvmInvarianceTest}: prefill a fixed prompt, decode greedily, and print
 * the SHA-256 of every logit produced (and which kernel path ran), so that JVMs with different vector
 * widths and JIT tiers can be compared.
 */
public final class LogitsDigest {
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        int steps = Integer.parseInt(args[1]);
        try (GgufFile f = GgufFile.open(model); WorkerPool pool = new WorkerPool(2)) {
            Model m = ModelLoader.load(f);
            ModelRunner r = m.newRunner(pool, 64, args.length > 2 ? Activations.parse(args[2]) : Activations.F32);
            KvCache kv = new KvCache(m.kvLayers(), m.kvDim(), m.kvHeadDim(), 16, 8);
            int[] table = {0, 1, 2, 3, 4, 5, 6, 7};
            int[] prompt = {1, 415, 2936, 9060, 285, 1142, 461, 10575, 754, 278, 17366, 11203};
            for (int i = 0; i < prompt.length; i++) prompt[i] %= m.vocabSize();
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            float[] logits = new float[prompt.length * m.vocabSize()];
            ForwardBatch b = new ForwardBatch(64, 1);
            if (m.stateFloats() > 0) { // a recurrent model: one state slot, fresh
                b.stateStore = new float[m.stateFloats()];
                m.initState(b.stateStore, 0);
            }
            int s = b.addSequence(table, 0, 0);
            for (int i = 0; i < prompt.length; i++) b.addToken(s, prompt[i], i, true);
            r.forward(b, kv, logits);
            digest(sha, logits, prompt.length * m.vocabSize());
            int pos = prompt.length;
            int tok = Ops.argmax(logits, (prompt.length - 1) * m.vocabSize(), m.vocabSize());
            for (int i = 0; i < steps; i++) {
                b.clear();
                s = b.addSequence(table, 0, pos);
                b.addToken(s, tok, pos++, true);
                r.forward(b, kv, logits);
                digest(sha, logits, m.vocabSize());
                tok = Ops.argmax(logits, 0, m.vocabSize());
            }
            System.out.println(Canonical.PATH + " " + HexFormat.of().formatHex(sha.digest()));
        }
    }

    private static void digest(MessageDigest sha, float[] v, int n) {
        ByteBuffer bb = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
        bb.asFloatBuffer().put(v, 0, n);
        sha.update(bb.array());
    }
}
