package dev.lockstep.cache;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The paged KV cache's storage: for every layer, one off-heap pool of {@code numBlocks} blocks of
 * {@code blockSize} token slots, each slot holding {@code kvDim} floats of K and of V.
 * Which block belongs to which sequence is the {@link BlockManager}'s business; this class only knows
 * where slot (block, i) lives. Off-heap so that its size is bounded by RAM, not by the Java heap.
 *
 * <pre>
 * layer l, K:  [block][kv head][head dim][slot]   (within a block, a head's K is stored transposed)
 * layer l, V:  [block][slot][kv head][head dim]
 * </pre>
 * K is transposed inside each block so that attention reads one dimension of 16 positions with a
 * single vector load and computes 16 scores at once (see {@code Attention}).
 */
public final class KvCache implements AutoCloseable {
    public static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int layers, kvDim, blockSize, numBlocks, headDim;
    private final Arena arena;
    private final MemorySegment[] keys, values;

    public KvCache(int layers, int kvDim, int headDim, int blockSize, int numBlocks) {
        if (numBlocks < 1) throw new IllegalArgumentException("KV cache needs at least one block");
        if (headDim > 0 && kvDim % headDim != 0) throw new IllegalArgumentException("kvDim " + kvDim + " is not whole heads of " + headDim);
        this.headDim = headDim;
        this.layers = layers;
        this.kvDim = kvDim;
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.arena = Arena.ofShared();
        this.keys = new MemorySegment[layers];
        this.values = new MemorySegment[layers];
        long bytes = bytesPerLayer(kvDim, blockSize, numBlocks);
        for (int l = 0; l < layers; l++) {
            keys[l] = arena.allocate(bytes, 64);
            values[l] = arena.allocate(bytes, 64);
        }
    }

    static long bytesPerLayer(int kvDim, int blockSize, int numBlocks) {
        return (long) numBlocks * blockSize * kvDim * Float.BYTES;
    }

    /** Bytes one block takes over all layers, K and V. */
    public static long bytesPerBlock(int layers, int kvDim, int blockSize) {
        return 2L * layers * blockSize * kvDim * Float.BYTES;
    }

    public int layers() { return layers; }
    public int kvDim() { return kvDim; }
    public int blockSize() { return blockSize; }
    public int numBlocks() { return numBlocks; }
    public int headDim() { return headDim; }
    public MemorySegment keys(int layer) { return keys[layer]; }
    public MemorySegment values(int layer) { return values[layer]; }

    /** Byte offset of token slot {@code slot} of block {@code block} within a layer's pool. */
    public long offset(int block, int slot) {
        return ((long) block * blockSize + slot) * kvDim * Float.BYTES;
    }

    /** Byte offset of the slot holding sequence position {@code pos}, through the sequence's block table. */
    public long offset(int[] blockTable, int pos) {
        return offset(blockTable[pos / blockSize], pos % blockSize);
    }

    /** Byte offset of dimension {@code d} of kv head {@code g} of block {@code block} in a layer's K pool (16 slots follow). */
    public long keyOffset(int block, int g, int d) {
        return (((long) block * kvDim + (long) g * headDim + d) * blockSize) * Float.BYTES;
    }

    /** Stores one token's K and V (kvDim floats each) at {@code pos} of the sequence with {@code blockTable}. */
    public void write(int layer, int[] blockTable, int pos, float[] k, int kOff, float[] v, int vOff) {
        int block = blockTable[pos / blockSize], slot = pos % blockSize;
        MemorySegment.copy(v, vOff, values[layer], FLOAT, offset(block, slot), kvDim);
        MemorySegment ks = keys[layer];
        long base = (long) block * kvDim * blockSize + slot;
        for (int i = 0; i < kvDim; i++) ks.setAtIndex(FLOAT, base + (long) i * blockSize, k[kOff + i]);
    }

    /** Copies every layer's slots of block {@code src} into block {@code dst} (copy-on-write of a shared block). */
    public void copyBlock(int src, int dst) {
        long n = (long) blockSize * kvDim * Float.BYTES;
        for (int l = 0; l < layers; l++) {
            MemorySegment.copy(keys[l], offset(src, 0), keys[l], offset(dst, 0), n);
            MemorySegment.copy(values[l], offset(src, 0), values[l], offset(dst, 0), n);
        }
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
