#!/usr/bin/env python3
"""Writes Int8Kernels512.java and Int8Kernels256.java: the INT8-activation kernels at two widths.

    python3 tools/int8-kernels/generate.py lockstep-core/src/main/java/dev/lockstep/kernels

512-bit: one register holds a group's 16 rows. 256-bit: a call computes half h of the group (8 rows).
The kernels are written out with no helper methods of their own: C2 inlines the Vector API's methods
(annotated @ForceInline) whatever a method's size, but stops inlining ordinary helpers once a method
is big (NodeCountInliningCutoff), and a vector passed to or returned from a call it did not inline is
boxed: the four-token kernels allocated hundreds of megabytes per decode step that way.
"""
import sys


class Width:
    def __init__(self, bits):
        wide = bits == 512
        self.bits = bits
        self.S, self.B, self.I, self.F = (("S512", "B256", "I512", "F512") if wide else ("S256", "B128", "I256", "F256"))
        self.H = "" if wide else ", int h"        # the half, 256-bit only
        self.qh = "" if wide else " + 16 * h"     # 8-bit weights: 2 bytes per row in 32 bytes
        self.wh = "" if wide else " + 32 * h"     # 4-bit weights: 4 bytes per row in a 64-byte chunk
        self.fh = "" if wide else " + 16 * h"     # f16 scales: 2 bytes per row
        self.bh = "" if wide else " + 8 * h"      # 8-bit scales: 1 byte per row
        self.half_species = "ShortVector.SPECIES_256" if wide else "ShortVector.SPECIES_128"
        self.byte_scale_species = "ByteVector.SPECIES_128" if wide else "ByteVector.SPECIES_64"

    # -- expressions (each names its vector type: the Vector API's conversions return Vector<?>)
    def pair(self, x):
        """A pair of activations (low and high 16 bits of an int) beside every pair of weights."""
        return f"IntVector.broadcast({self.I}, {x}).reinterpretAsShorts()"

    def to_float(self, x):
        return f"((FloatVector) {x}.convert(I2F, 0))"

    def nibbles(self, off):
        """4-bit weights: 32 (or 16) bytes zero-extended to 16-bit lanes."""
        return f"((ShortVector) ByteVector.fromMemorySegment({self.B}, w, {off}{self.qh}, LE).convertShape(ZERO_EXTEND_B2S, {self.S}, 0))"

    def bytes(self, off):
        """8-bit weights: sign-extended to 16-bit lanes."""
        return f"((ShortVector) ByteVector.fromMemorySegment({self.B}, w, {off}{self.qh}, LE).convertShape(B2S, {self.S}, 0))"

    def byte_scales(self, off, signed):
        conv = "B2I" if signed else "ZERO_EXTEND_B2I"
        return f"((FloatVector) ByteVector.fromMemorySegment({self.byte_scale_species}, w, {off}{self.bh}, LE).convertShape({conv}, {self.I}, 0).convert(I2F, 0))"

    @staticmethod
    def pair_sum(v):
        """The two 16-bit halves of each 32-bit lane of IntVector v, sign-extended and added."""
        return f"{v}.lanewise(LSHL, 16).lanewise(ASHR, 16).add({v}.lanewise(ASHR, 16))"

    def halves(self, name, off, indent):
        """Lines declaring FloatVector `name`: the rows' f16 scales at `off`, exactly (rebias by 2^112, keep Inf/NaN, restore the sign)."""
        h, e, s = name + "H", name + "E", name + "S"
        return [f"{indent}IntVector {h} = ((IntVector) ShortVector.fromMemorySegment({self.half_species}, w, {off}{self.fh}, LE).convertShape(S2I, {self.I}, 0)).and(0xFFFF);",
                f"{indent}IntVector {e} = {h}.and(0x7FFF), {s} = {e}.lanewise(LSHL, 13);",
                f"{indent}FloatVector {name} = {s}.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts().blend({s}.or(0x7F800000), {e}.compare(GE, 0x7C00))",
                f"{indent}        .or({h}.and(0x8000).lanewise(LSHL, 16)).reinterpretAsFloats();"]


def one_token(W, name, unit_bytes, body, doc):
    return f"""
    /** {doc} One token. */
    static void {name}x1(MemorySegment w, long off, int units{W.H}, int[] qp, int po, float[] da, int[] sm, int bo, float[] out, int oo) {{
        FloatVector acc = FloatVector.zero({W.F});
        for (int u = 0; u < units; u++, off += {unit_bytes}) {{
{chr(10).join(body)}
        }}
        acc.intoArray(out, oo);
    }}
"""


def four_tokens(W, name, unit_bytes, body, doc):
    return f"""
    /**
     * {doc} Four tokens: token j's pairs at {{@code to[j]}} and blocks at {{@code to[4 + j]}},
     * its outputs in {{@code out[oo + 16 j]}}; {{@code to[8..72)}} is scratch, through which the four
     * tokens' integer sums go from registers to one loop over the tokens for the float work (written
     * out four times, that made the method bigger than C2 compiles well).
     */
    static void {name}x4(MemorySegment w, long off, int units{W.H}, int[] qp, int[] to, float[] da, int[] sm, float[] out, int oo) {{
        int p0 = to[0], p1 = to[1], p2 = to[2], p3 = to[3];
        for (int t = 0; t < 4; t++) FloatVector.zero({W.F}).intoArray(out, oo + 16 * t);
        for (int u = 0; u < units; u++, off += {unit_bytes}) {{
{chr(10).join(body)}
        }}
    }}
"""


def stash(indent, ints):
    return [f"{indent}s{t}{'' if ints else '.reinterpretAsInts()'}.intoArray(to, {8 + 16 * t});" for t in range(4)]


def looped(indent, var, count, step):
    """A loop of `count` trips over a body for `var`: the four-token kernels keep their loops (written
    out, q4Kx4 grew to 2872 bytes of bytecode, which C1 could not compile: "out of virtual registers",
    and the method never reached C2)."""
    return [f"{indent}for (int {var} = 0; {var} < {count}; {var}++) {{"] + step(indent + "    ", var) + [f"{indent}}}"]


def straight(indent, step, count):
    """`count` copies of a loop body for p = 0, 1, ...: the loops over a scale block's 8 or 16 steps
    are written out, since a loop of so few trips costs C2's loop setup (range checks, pre- and
    post-loops) per scale block, which measured more than its body. Each copy in its own braces."""
    lines = []
    for p in range(count):
        lines.append(indent + "{")
        lines += step(indent + "    ", p)
        lines.append(indent + "}")
    return lines


def nibble_steps(W, indent, base, tokens):
    """One chunk of 4-bit weights at `base` times `tokens` (list of (sum, pairs-offset expr)): four
    shifts and masks of one load give four vectors of value pairs (no cross-lane widening)."""
    lines = [f"{indent}IntVector x = IntVector.fromMemorySegment({W.I}, w, {base}{W.wh}, LE);"]
    for m in range(4):
        part = "x" if m == 0 else f"x.lanewise(LSHR, {4 * m})"
        mask = "" if m == 3 else ".and(0x000F000F)"
        if m == 3:
            part = "x.lanewise(LSHR, 12).and(0x000F000F)"
        else:
            part = part + mask
        lines.append(f"{indent}ShortVector n{m} = {part}.reinterpretAsShorts();")
    for s, k, at in tokens:
        terms = "".join(f".add(n{m}.mul({W.pair(f'qp[{k}' + (f' + {at + m}' if at + m else '') + ']')}))" for m in range(4))
        lines.append(f"{indent}{s} = {s}{terms};")
    return lines


def kernels(W):
    out = []
    I, F, S = W.I, W.F, W.S
    ps = W.pair_sum

    # ---------------------------------------------------------------- Q4_0
    body = ([f"            ShortVector s = ShortVector.zero({S});",
             "            int k = po + 16 * u;"]
            + straight("            ", lambda i, c: nibble_steps(W, i, f"off + {32 + 64 * c}", [("s", "k", 4 * c)]), 4)
            + [
               f"            IntVector i = s.reinterpretAsInts();",
               f"            i = {ps('i')}.sub(8 * sm[bo + u]);"]
            + W.halves("d", "off", "            ")
            + [f"            acc = {W.to_float('i')}.fma(d.mul(da[bo + u]), acc);"])
    out.append(one_token(W, "q4_0", 288, body, "Q4_0: nibbles times pairs, less 8 times the block's activation sum."))
    body = ([f"            ShortVector s0 = ShortVector.zero({S}), s1 = s0, s2 = s0, s3 = s0;",
             "            int k = 16 * u;"]
            + looped("            ", "c", 4, lambda i, c: nibble_steps(W, i, f"off + 32 + 64 * {c}", [(f"s{t}", f"p{t} + k + 4 * {c}", 0) for t in range(4)]))
            + stash("            ", False)
            + W.halves("d", "off", "            ")
            + ["            for (int t = 0; t < 4; t++) {",
               "                int b = to[4 + t] + u;",
               f"                IntVector i = IntVector.fromArray({I}, to, 8 + 16 * t);",
               f"                i = {ps('i')}.sub(8 * sm[b]);",
               f"                {W.to_float('i')}.fma(d.mul(da[b]), FloatVector.fromArray({F}, out, oo + 16 * t)).intoArray(out, oo + 16 * t);",
               "            }"])
    out.append(four_tokens(W, "q4_0", 288, body, "Q4_0 as {@link #q4_0x1}."))

    # ---------------------------------------------------------------- Q4_K, Q5_K
    for name, unit_bytes, four in (("q4K", 2368, True), ("q5K", 4416, False)):
        fix = "" if four else ".add(16 * sm[blk])"
        if four:
            step1 = straight("                ", lambda i, c: nibble_steps(W, i, f"q + {64 * c}", [("s", "k", 4 * c)]), 4)
            step4 = looped("                ", "c", 4, lambda i, c: nibble_steps(W, i, f"q + 64 * {c}", [(f"s{t}", f"p{t} + k + 4 * {c}", 0) for t in range(4)]))
            doc = "Q4_K: per sub-block of 32, nibbles times pairs, then the minimum times the activation sum."
        else:
            step1 = [f"                s = s.add({W.bytes(f'q + {32 * p}')}.mul({W.pair(f'qp[k + {p}]')}));" for p in range(16)]
            step4 = looped("                ", "p", 16, lambda i, p: [f"{i}ShortVector v = {W.bytes(f'q + 32 * {p}')};"]
                           + [f"{i}s{t} = s{t}.add(v.mul({W.pair(f'qp[p{t} + k + {p}]')}));" for t in range(4)])
            doc = "Q5_K: per sub-block of 32, bytes (level - 16) times pairs, plus 16 times the activation sum, then the minimum."
        body = (W.halves("d", "off", "            ") + W.halves("dm", "off + 32", "            ")
                + ["            for (int j = 0; j < 8; j++) {",
                   f"                ShortVector s = ShortVector.zero({S});",
                   "                int k = po + 128 * u + 16 * j, blk = bo + 8 * u + j;",
                   f"                long q = off + 320 + {256 if four else 512} * j;"]
                + step1
                + ["                IntVector i = s.reinterpretAsInts();",
                   f"                i = {ps('i')}{fix};",
                   "                float a = da[blk];",
                   f"                acc = {W.to_float('i')}.fma(d.mul({W.byte_scales('off + 64 + 16 * j', False)}).mul(a), acc);",
                   f"                acc = FloatVector.broadcast({F}, (float) sm[blk]).fma(dm.mul({W.byte_scales('off + 192 + 16 * j', False)}).mul(a).neg(), acc);",
                   "            }"])
        out.append(one_token(W, name, unit_bytes, body, doc))
        fix = "" if four else ".add(16 * sm[b])"
        body = (W.halves("d", "off", "            ") + W.halves("dm", "off + 32", "            ")
                + ["            for (int j = 0; j < 8; j++) {",
                   f"                ShortVector s0 = ShortVector.zero({S}), s1 = s0, s2 = s0, s3 = s0;",
                   "                int k = 128 * u + 16 * j;",
                   f"                long q = off + 320 + {256 if four else 512} * j;"]
                + step4
                + stash("                ", False)
                + [f"                FloatVector c1 = d.mul({W.byte_scales('off + 64 + 16 * j', False)}), c2 = dm.mul({W.byte_scales('off + 192 + 16 * j', False)});",
                   "                for (int t = 0; t < 4; t++) {",
                   "                    int b = to[4 + t] + 8 * u + j;",
                   "                    float a = da[b];",
                   f"                    IntVector i = IntVector.fromArray({I}, to, 8 + 16 * t);",
                   f"                    i = {ps('i')}{fix};",
                   f"                    FloatVector f = {W.to_float('i')}.fma(c1.mul(a), FloatVector.fromArray({F}, out, oo + 16 * t));",
                   f"                    FloatVector.broadcast({F}, (float) sm[b]).fma(c2.mul(a).neg(), f).intoArray(out, oo + 16 * t);",
                   "                }",
                   "            }"])
        out.append(four_tokens(W, name, unit_bytes, body, f"{'Q4_K' if four else 'Q5_K'} as {{@link #{name}x1}}."))

    # ---------------------------------------------------------------- Q6_K
    body = (W.halves("d", "off", "            ")
            + ["            for (int j = 0; j < 16; j++) {",
               f"                ShortVector s = ShortVector.zero({S});",
               "                int k = po + 128 * u + 8 * j, blk = bo + 8 * u + j / 2;",
               "                long q = off + 288 + 256 * j;"]
            + [f"                s = s.add({W.bytes(f'q + {32 * p}')}.mul({W.pair(f'qp[k + {p}]')}));" for p in range(8)]
            + [
               "                IntVector i = s.reinterpretAsInts();",
               f"                acc = {W.to_float(ps('i'))}.fma(d.mul({W.byte_scales('off + 32 + 16 * j', True)}).mul(da[blk]), acc);",
               "            }"])
    out.append(one_token(W, "q6K", 4384, body, "Q6_K: per sub-block of 16, bytes (level - 32) times pairs."))
    body = (W.halves("d", "off", "            ")
            + ["            for (int j = 0; j < 16; j++) {",
               f"                ShortVector s0 = ShortVector.zero({S}), s1 = s0, s2 = s0, s3 = s0;",
               "                int k = 128 * u + 8 * j;",
               "                long q = off + 288 + 256 * j;"]
            + looped("                ", "p", 8, lambda i, p: [f"{i}ShortVector v = {W.bytes(f'q + 32 * {p}')};"]
                     + [f"{i}s{t} = s{t}.add(v.mul({W.pair(f'qp[p{t} + k + {p}]')}));" for t in range(4)])
            + stash("                ", False)
            + [f"                FloatVector c1 = d.mul({W.byte_scales('off + 32 + 16 * j', True)});",
               "                for (int t = 0; t < 4; t++) {",
               "                    int b = to[4 + t] + 8 * u + j / 2;",
               f"                    IntVector i = IntVector.fromArray({I}, to, 8 + 16 * t);",
               f"                    {W.to_float(ps('i'))}.fma(c1.mul(da[b]), FloatVector.fromArray({F}, out, oo + 16 * t)).intoArray(out, oo + 16 * t);",
               "                }",
               "            }"])
    out.append(four_tokens(W, "q6K", 4384, body, "Q6_K as {@link #q6Kx1}."))
    return "".join(out)


def header(W):
    cls = f"Int8Kernels{W.bits}"
    if W.bits == 512:
        doc = """/**
 * The 512-bit kernels of {@link Int8Gemm}: a group's 16 rows in one register (16 floats; 32 shorts,
 * two values per row). Written by {@code tools/int8-kernels/generate.py} with {@link Int8Kernels256}
 * from one template; edit that, not this. The code has no helper methods: why is in the generator.
 */"""
    else:
        doc = """/**
 * The 256-bit kernels of {@link Int8Gemm}: a call computes half {@code h} of a group, its rows
 * {@code 8h .. 8h+7} (8 floats; 16 shorts, two values per row), so a group takes two calls; each
 * lane does what the 512-bit kernel's lane of the same row does, so the bits are the same. Written
 * by {@code tools/int8-kernels/generate.py} with {@link Int8Kernels512} from one template; edit
 * that, not this. The code has no helper methods: why is in the generator.
 */"""
    return f"""package dev.lockstep.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.GE;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.S2I;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2S;

// GENERATED by tools/int8-kernels/generate.py; do not edit.
{doc}
final class {cls} {{
    private {cls}() {{}}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Short> {W.S} = ShortVector.SPECIES_{W.bits};
    private static final VectorSpecies<Byte> {W.B} = ByteVector.SPECIES_{W.bits // 2};
    private static final VectorSpecies<Integer> {W.I} = IntVector.SPECIES_{W.bits};
    private static final VectorSpecies<Float> {W.F} = FloatVector.SPECIES_{W.bits};
"""


if __name__ == "__main__":
    for bits in (512, 256):
        W = Width(bits)
        with open(f"{sys.argv[1]}/Int8Kernels{bits}.java", "w") as f:
            f.write(header(W) + kernels(W) + "}\n")
