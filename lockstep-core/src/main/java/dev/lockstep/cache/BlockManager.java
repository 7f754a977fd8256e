package dev.lockstep.cache;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * Owns the KV cache's blocks: reference counts, a free list, and the prefix cache.
 *
 * <p><b>Prefix cache.</b> A block that holds a full run of {@code blockSize} tokens is identified by a
 * hash chain: hash(parent block's hash, its tokens, model key). A new sequence whose prompt starts with
 * the same tokens reuses those blocks instead of recomputing them. This is exact, not approximate:
 * Lockstep's kernels give a position's K/V the same bits whatever batch computed it, so a cached block
 * holds exactly what recomputation would write. Hash collisions cannot hurt: a hit also compares the
 * stored tokens and parent hash.
 *
 * <p><b>Life of a block.</b> free list -> allocated (ref >= 1) -> released: if it carries a prefix hash
 * it becomes <em>evictable</em> (ref 0, still findable, least recently released first), otherwise it
 * returns to the free list. Allocation takes free blocks first, then evicts.
 *
 * <p>Not thread-safe: used by the engine thread only.
 */
public final class BlockManager {
    public static final long NO_HASH = 0L;

    private final int numBlocks, blockSize;
    private final long modelKey;
    private final boolean prefixCaching;
    private final int[] refCount;
    private final long[] hash;        // prefix hash of a registered full block, or NO_HASH
    private final long[] parentHash;  // hash of the block before it in its chain
    private final int[][] tokens;     // tokens of a registered block, for exact hit checks
    private final int[] freeStack;
    private int freeTop;
    private final LinkedHashSet<Integer> evictable = new LinkedHashSet<>();
    private final Map<Long, Integer> byHash = new HashMap<>();

    private long queriedTokens, hitTokens;

    public BlockManager(int numBlocks, int blockSize, long modelKey, boolean prefixCaching) {
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.modelKey = modelKey;
        this.prefixCaching = prefixCaching;
        this.refCount = new int[numBlocks];
        this.hash = new long[numBlocks];
        this.parentHash = new long[numBlocks];
        this.tokens = new int[numBlocks][];
        this.freeStack = new int[numBlocks];
        // lowest ids on top of the stack
        for (int i = 0; i < numBlocks; i++) freeStack[i] = numBlocks - 1 - i;
        this.freeTop = numBlocks;
    }

    public int numBlocks() { return numBlocks; }
    public int blockSize() { return blockSize; }
    public boolean prefixCaching() { return prefixCaching; }

    /** Blocks that can be handed out now (free + evictable cached ones). */
    public int available() {
        return freeTop + evictable.size();
    }

    /** Blocks referenced by at least one sequence. */
    public int used() {
        return numBlocks - available();
    }

    /** Blocks holding a cached prefix that nobody references right now. */
    public int cachedIdle() {
        return evictable.size();
    }

    public long queriedTokens() { return queriedTokens; }
    public long hitTokens() { return hitTokens; }

    /** Blocks needed to hold {@code tokens} tokens. */
    public int blocksFor(int tokens) {
        return (tokens + blockSize - 1) / blockSize;
    }

    /** Takes one block (free first, else the least recently released cached block); ref = 1. */
    public int allocate() {
        int b;
        if (freeTop > 0) {
            b = freeStack[--freeTop];
        } else {
            var it = evictable.iterator();
            if (!it.hasNext()) throw new IllegalStateException("no KV block available");
            b = it.next();
            it.remove();
            forget(b);
        }
        refCount[b] = 1;
        return b;
    }

    /**
     * Extends a block table that holds {@code have} blocks so that it holds {@code tokens} tokens.
     * Returns the new block count, or -1 (and takes nothing) when too few blocks are available.
     */
    public int grow(int[] table, int have, int tokens) {
        int need = blocksFor(tokens) - have;
        if (need <= 0) return have;
        if (available() < need) return -1;
        for (int i = 0; i < need; i++) table[have++] = allocate();
        return have;
    }

    /** Drops one reference to each of {@code table[from, to)}. */
    public void release(int[] table, int from, int to) {
        for (int i = from; i < to; i++) release(table[i]);
    }

    /** Drops one reference; at zero the block becomes evictable (if cached) or free. */
    public void release(int b) {
        if (refCount[b] <= 0) throw new IllegalStateException("block " + b + " released twice");
        if (--refCount[b] == 0) {
            if (hash[b] != NO_HASH) evictable.add(b);
            else freeStack[freeTop++] = b;
        }
    }

    private void forget(int b) {
        if (hash[b] != NO_HASH) {
            byHash.remove(hash[b], b);
            hash[b] = NO_HASH;
            tokens[b] = null;
        }
    }

    /** Hash of the chain root (no parent): depends on the model only. */
    public long rootHash() {
        return mix(0x6c6f636b73746570L ^ modelKey);
    }

    /** Hash of a full block after {@code parent}, holding {@code tokens[from .. from+blockSize)}. */
    public long blockHash(long parent, int[] toks, int from) {
        long h = mix(parent * 0x9E3779B97F4A7C15L + modelKey);
        for (int i = 0; i < blockSize; i++) h = mix(h ^ (toks[from + i] & 0xFFFFFFFFL) * 0xC2B2AE3D27D4EB4FL);
        return h == NO_HASH ? 1 : h;
    }

    private static long mix(long z) { // splitmix64 finaliser
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * How many leading full blocks of {@code toks[0..n)} are cached (at most {@code maxBlocks}), without
     * taking them. {@code out} receives their ids; {@code outHashes} their chain hashes.
     */
    public int lookupPrefix(int[] toks, int n, int maxBlocks, int[] out, long[] outHashes) {
        if (!prefixCaching) return 0;
        int full = Math.min(n / blockSize, maxBlocks);
        long parent = rootHash();
        int hits = 0;
        for (int i = 0; i < full; i++) {
            long h = blockHash(parent, toks, i * blockSize);
            Integer b = byHash.get(h);
            if (b == null || parentHash[b] != parent
                    || !Arrays.equals(tokens[b], 0, blockSize, toks, i * blockSize, (i + 1) * blockSize)) break;
            out[hits] = b;
            outHashes[hits] = h;
            hits++;
            parent = h;
        }
        return hits;
    }

    /** Of the blocks {@code ids[0..n)}, how many are idle (would leave the available pool when taken). */
    public int countIdle(int[] ids, int n) {
        int c = 0;
        for (int i = 0; i < n; i++) if (refCount[ids[i]] == 0) c++;
        return c;
    }

    /** Takes a reference on a cached block found by {@link #lookupPrefix}. */
    public void acquire(int b) {
        if (refCount[b]++ == 0) evictable.remove(b);
    }

    /** Records a prefix-cache lookup of {@code queried} prompt tokens of which {@code hits} were cached. */
    public void recordLookup(int queried, int hits) {
        queriedTokens += queried;
        hitTokens += hits;
    }

    /**
     * Registers block {@code b}, now full with {@code toks[from..from+blockSize)} after {@code parent}, in
     * the prefix cache; returns its hash. If an identical block is already cached, the existing one
     * stays the canonical copy (both hold the same bits).
     */
    public long register(int b, long parent, int[] toks, int from) {
        long h = blockHash(parent, toks, from);
        if (!prefixCaching) return h;
        if (hash[b] == NO_HASH && !byHash.containsKey(h)) {
            hash[b] = h;
            parentHash[b] = parent;
            tokens[b] = Arrays.copyOfRange(toks, from, from + blockSize);
            byHash.put(h, b);
        }
        return h;
    }

    /** Drops every idle cached block (e.g. for tests of cold caches). */
    public void clearIdleCache() {
        for (int b : evictable) {
            forget(b);
            freeStack[freeTop++] = b;
        }
        evictable.clear();
    }
}
