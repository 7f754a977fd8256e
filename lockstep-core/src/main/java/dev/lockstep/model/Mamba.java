package dev.lockstep.model;

import dev.lockstep.gguf.GgufException;
import dev.lockstep.gguf.GgufFile;

/**
 * Mamba-1 and Mamba-2 (archs {@code mamba} and {@code mamba2}, llama.cpp's tensor names and
 * {@code <arch>.ssm.*} keys): {@link MambaMixer} / {@link Mamba2Mixer} blocks in a {@link RecurrentModel}.
 */
public final class Mamba extends RecurrentModel {

    public Mamba(GgufFile f, String arch) {
        super(f, arch);
    }

    @Override
    protected RecurrentMixer block(TensorLoader tl, int i) {
        GgufFile f = tl.file();
        String p0 = arch + ".", p = "blk." + i + ".";
        boolean v2 = arch.equals("mamba2");
        int dConv = f.getInt(p0 + "ssm.conv_kernel", 1, 16), dInner = f.getInt(p0 + "ssm.inner_size", 1, 1 << 14);
        int dState = f.getInt(p0 + "ssm.state_size", 1, 512), dtRank = f.getInt(p0 + "ssm.time_step_rank", 1, 1 << 13); // mamba2: heads
        int groups = v2 ? f.getInt(p0 + "ssm.group_count", 1, 1, 64) : 1;
        if (f.getBool(p0 + "ssm.dt_b_c_rms", false))
            throw new GgufException(f.path(), p0 + "ssm.dt_b_c_rms = true (Falcon-Mamba) is not supported yet");
        if (v2) {
            if (dtRank <= 0 || dInner % dtRank != 0 || groups <= 0 || dtRank % groups != 0)
                throw new GgufException(f.path(), "mamba2: " + dtRank + " heads and " + groups + " groups do not divide d_inner "
                        + dInner + " evenly");
            int convDim = dInner + 2 * groups * dState;
            return new Mamba2Mixer(dModel, dInner, dState, dConv, dtRank, groups, eps,
                    tl.vector(p + "attn_norm.weight", dModel),
                    tl.vector(p + "ssm_in.weight", (dInner + convDim + dtRank) * dModel),
                    tl.vector(p + "ssm_conv1d.weight", convDim * dConv),
                    tl.vector(p + "ssm_conv1d.bias", convDim),
                    tl.vector(p + "ssm_dt.bias", dtRank),
                    tl.vector(p + "ssm_a", dtRank),
                    tl.vector(p + "ssm_d", dtRank),
                    tl.vector(p + "ssm_norm.weight", dInner),
                    tl.vector(p + "ssm_out.weight", dModel * dInner));
        }
        return new MambaMixer(dModel, dInner, dState, dConv, dtRank, eps,
                tl.vector(p + "attn_norm.weight", dModel),
                tl.vector(p + "ssm_in.weight", 2 * dInner * dModel),
                tl.vector(p + "ssm_conv1d.weight", dInner * dConv),
                tl.vector(p + "ssm_conv1d.bias", dInner),
                tl.vector(p + "ssm_x.weight", (dtRank + 2 * dState) * dInner),
                tl.vector(p + "ssm_dt.weight", dInner * dtRank),
                tl.vector(p + "ssm_dt.bias", dInner),
                tl.vector(p + "ssm_a", dInner * dState),
                tl.vector(p + "ssm_d", dInner),
                tl.vector(p + "ssm_out.weight", dModel * dInner));
    }

    @Override
    public String describe() {
        GgufFile f = file;
        String p0 = arch + ".";
        return String.format("%s: dim %d, %d layers, d_inner %d, d_state %d, d_conv %d, %s %d, vocab %d, context %d, rms eps %.1e%s; "
                        + "state %d floats per sequence", arch, dModel, layers, f.getInt(p0 + "ssm.inner_size"),
                f.getInt(p0 + "ssm.state_size"), f.getInt(p0 + "ssm.conv_kernel"), arch.equals("mamba2") ? "heads" : "dt_rank",
                f.getInt(p0 + "ssm.time_step_rank"), vocab, context, eps, output == embedding ? ", tied output" : "", stateFloats());
    }
}
