package dev.lockstep.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The models one server serves, by id, and which of them are in memory. A model loads on the first
 * request that names it (the first model, the default, loads at start) and stays loaded while it is
 * used; when loading another would take the loaded models past the memory budget, the least recently
 * used ones that no request holds are unloaded first. A model a request holds ({@link Lease}) is never
 * unloaded under it; if the budget cannot be met without that, the request that wanted the new model
 * gets 503 with the reason, and nothing is unloaded for it. (Room is made for a model's file before
 * it loads, and for the file and its KV cache once loaded; two models loading at the same moment are
 * each checked when they finish.)
 *
 * <p>Each model has its own engine (KV cache, batches, worker threads), so requests to different
 * models never share a batch, and each keeps the same-bits guarantee on its own.
 */
final class ModelPool {
    /** What loading a model gives: the model to serve, its memory, and how to release it. */
    record Loaded(ServedModel model, long bytes, Runnable unload) {}

    /** Loads a model (off the pool's lock); throws a message for the client if it cannot. */
    interface Loader {
        Loaded load(OpenAiServer.ModelSource source) throws Exception;
    }

    /** A request's hold on a loaded model: the model is not unloaded until every lease on it closes. */
    final class Lease implements AutoCloseable {
        private final Slot slot;
        private boolean closed;

        private Lease(Slot slot) {
            this.slot = slot;
        }

        ServedModel model() {
            return slot.loaded.model();
        }

        @Override
        public void close() {
            synchronized (ModelPool.this) {
                if (closed) return;
                closed = true;
                slot.leases--;
                slot.lastUsed = ++clock;
            }
        }
    }

    private static final class Slot {
        final OpenAiServer.ModelSource source;
        Loaded loaded;
        boolean loading;
        int leases;
        long lastUsed;

        Slot(OpenAiServer.ModelSource source) {
            this.source = source;
        }
    }

    private final Map<String, Slot> slots = new LinkedHashMap<>();
    private final Loader loader;
    private final long budget;
    private long used, clock;
    private boolean closed;

    /** {@code sources} in order (the first is the default model); ids must be distinct. */
    ModelPool(List<OpenAiServer.ModelSource> sources, long budgetBytes, Loader loader) {
        if (sources.isEmpty()) throw new IllegalArgumentException("no models to serve");
        for (OpenAiServer.ModelSource s : sources)
            if (slots.putIfAbsent(s.id(), new Slot(s)) != null)
                throw new IllegalArgumentException("two models have the id '" + s.id() + "'; give one an --alias");
        this.loader = loader;
        this.budget = budgetBytes;
    }

    /** The default model's id: the first given. */
    String defaultId() {
        return slots.keySet().iterator().next();
    }

    List<String> ids() {
        return List.copyOf(slots.keySet());
    }

    /** The loaded model of this id, or null (no loading, no lease: for listings). */
    synchronized ServedModel loadedModel(String id) {
        Slot s = slots.get(id);
        return s == null || s.loaded == null ? null : s.loaded.model();
    }

    /** Bytes the loaded models take (their files and KV caches). */
    synchronized long usedBytes() {
        return used;
    }

    /**
     * A lease on model {@code id} ({@code null}: the default), loading it first if needed (waiting
     * while another request loads it). 404 for an unknown id, naming the ones served; 503 if it cannot
     * be loaded within the budget now, or failed to load.
     */
    Lease acquire(String id) throws InterruptedException {
        String want = id == null ? defaultId() : id;
        Slot slot;
        synchronized (this) {
            slot = slots.get(want);
            if (slot == null)
                throw ApiException.notFound("model_not_found", "the model '" + OpenAiServer.clip(want)
                        + "' does not exist; this server serves " + quoted(slots.keySet()));
            while (slot.loading) wait();
            if (closed) throw ApiException.unavailable("the server is shutting down");
            if (slot.loaded != null) {
                slot.leases++;
                slot.lastUsed = ++clock;
                return new Lease(slot);
            }
            // make room for the file first (its KV cache is known once loaded), so two models'
            // weights are not in memory at once when they need not be
            makeRoom(fileBytes(slot.source), slot, want);
            slot.loading = true;
        }
        Loaded loaded = null;
        try {
            loaded = loader.load(slot.source);
            synchronized (this) {
                if (closed) throw ApiException.unavailable("the server is shutting down"); // the finally unloads it
                makeRoom(loaded.bytes(), slot, want);
                slot.loaded = loaded;
                used += loaded.bytes();
                slot.leases++;
                slot.lastUsed = ++clock;
                loaded = null; // kept
                return new Lease(slot);
            }
        } catch (ApiException | InterruptedException e) {
            throw e;
        } catch (Exception e) {
            throw ApiException.unavailable("the model '" + want + "' failed to load: " + e.getMessage());
        } finally {
            if (loaded != null) loaded.unload().run(); // loaded, then refused by the budget
            synchronized (this) {
                slot.loading = false;
                notifyAll();
            }
        }
    }

    /** Unloads idle models, least recently used first, until {@code need} bytes fit; 503 if they cannot. */
    private void makeRoom(long need, Slot self, String want) {
        List<Slot> victims = victims(need, self);
        if (victims == null) {
            long held = 0;
            for (Slot s : slots.values()) if (s.loaded != null && s.leases > 0) held += s.loaded.bytes();
            throw ApiException.unavailable("the model '" + want + "' needs " + mib(need) + " and the memory budget is "
                    + mib(budget) + ", of which " + mib(held) + " is held by models serving requests now; retry when they finish");
        }
        for (Slot v : victims) {
            used -= v.loaded.bytes();
            v.loaded.unload().run();
            v.loaded = null;
        }
    }

    private static long fileBytes(OpenAiServer.ModelSource s) {
        try {
            return java.nio.file.Files.size(s.path());
        } catch (java.io.IOException e) {
            return 0; // the loader will say what is wrong with the file
        }
    }

    /**
     * The idle loaded models to unload, least recently used first, so that {@code need} more bytes fit
     * the budget; null if that needs a model a request holds. A model alone over the budget is loaded
     * once every other model is unloaded (else it could never be served).
     */
    private List<Slot> victims(long need, Slot self) {
        List<Slot> idle = new ArrayList<>();
        boolean held = false;
        for (Slot s : slots.values()) {
            if (s == self || s.loaded == null) continue;
            if (s.leases == 0) idle.add(s);
            else held = true;
        }
        idle.sort((a, b) -> Long.compare(a.lastUsed, b.lastUsed));
        List<Slot> out = new ArrayList<>();
        long free = budget - used;
        for (Slot s : idle) {
            if (free >= need) break;
            out.add(s);
            free += s.loaded.bytes();
        }
        return free >= need || !held ? out : null;
    }

    /** Unloads every model (the server is stopping). */
    synchronized void closeAll() {
        closed = true;
        for (Slot s : slots.values())
            if (s.loaded != null) {
                s.loaded.unload().run();
                s.loaded = null;
            }
        used = 0;
        notifyAll();
    }

    /** Every loaded model (for shutdown and health). */
    synchronized List<ServedModel> loadedModels() {
        List<ServedModel> out = new ArrayList<>();
        for (Slot s : slots.values()) if (s.loaded != null) out.add(s.loaded.model());
        return out;
    }

    private static String quoted(Iterable<String> ids) {
        StringBuilder b = new StringBuilder();
        for (String id : ids) b.append(b.isEmpty() ? "" : ", ").append('\'').append(id).append('\'');
        return b.toString();
    }

    private static String mib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }
}
