package dev.lockstep.server;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pool's bookkeeping with a fake loader: models of given sizes, loads and unloads recorded. */
class ModelPoolTest {
    private final List<String> events = new ArrayList<>();
    private final Map<String, Long> sizes = new ConcurrentHashMap<>(Map.of("a", 40L, "b", 50L, "c", 30L));

    private ModelPool pool(long budget) {
        List<OpenAiServer.ModelSource> src = List.of(new OpenAiServer.ModelSource("a", Path.of("a.gguf")),
                new OpenAiServer.ModelSource("b", Path.of("b.gguf")), new OpenAiServer.ModelSource("c", Path.of("c.gguf")));
        return new ModelPool(src, budget, s -> {
            if (s.id().equals("broken")) throw new IllegalStateException("bad file");
            synchronized (events) {
                events.add("load " + s.id());
            }
            ServedModel m = new ServedModel(s.id(), null, null, null, "fp", 0);
            return new ModelPool.Loaded(m, sizes.get(s.id()), () -> {
                synchronized (events) {
                    events.add("unload " + s.id());
                }
            });
        });
    }

    @Test
    void loadsOnFirstUseAndUnloadsTheLeastRecentlyUsedIdleModel() throws Exception {
        ModelPool p = pool(100);
        try (var a = p.acquire(null)) { // the default is the first
            assertEquals("a", a.model().id());
        }
        try (var b = p.acquire("b")) {
            assertEquals("b", b.model().id());
        }
        assertEquals(90, p.usedBytes());
        try (var a = p.acquire("a")) { // a is now the most recently used
            assertSame(p.loadedModel("a"), a.model());
        }
        try (var c = p.acquire("c")) { // 90 + 30 > 100: b, the least recently used, goes
            assertEquals("c", c.model().id());
        }
        assertEquals(List.of("load a", "load b", "load c", "unload b"), events);
        assertTrue(p.loadedModel("a") != null && p.loadedModel("c") != null && p.loadedModel("b") == null);
        assertEquals(70, p.usedBytes());
    }

    @Test
    void aModelARequestHoldsIsNeverUnloaded() throws Exception {
        ModelPool p = pool(60);
        var a = p.acquire("a");
        ApiException e = assertThrows(ApiException.class, () -> p.acquire("b")); // 40 + 50 > 60, and a is held
        assertEquals(503, e.status);
        assertTrue(e.getMessage().contains("'b' needs") && e.getMessage().contains("held by models serving requests"), e.getMessage());
        assertTrue(p.loadedModel("a") != null && p.loadedModel("b") == null);
        a.close();
        try (var b = p.acquire("b")) { // a is idle now: unloaded for b
            assertEquals("b", b.model().id());
        }
        // the refused b was loaded (these fake files have no size to check first), then released at once
        assertEquals(List.of("load a", "load b", "unload b", "load b", "unload a"), events);
        assertFalse(p.loadedModel("a") != null);
    }

    @Test
    void aModelLargerThanTheBudgetLoadsAloneAndUnknownNamesAreListed() throws Exception {
        ModelPool p = pool(45);
        try (var a = p.acquire("a")) {
            assertEquals("a", a.model().id());
        }
        try (var b = p.acquire("b")) { // 50 > 45: served alone, once nothing else is loaded
            assertEquals("b", b.model().id());
        }
        assertFalse(p.loadedModel("a") != null);
        ApiException e = assertThrows(ApiException.class, () -> p.acquire("gpt-4o"));
        assertEquals(404, e.status);
        assertTrue(e.getMessage().contains("'gpt-4o' does not exist") && e.getMessage().contains("'a', 'b', 'c'"), e.getMessage());
    }

    @Test
    void concurrentRequestsLoadAModelOnce() throws Exception {
        ModelPool p = pool(1000);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 8; i++)
            threads.add(Thread.ofVirtual().start(() -> {
                try (var b = p.acquire("b")) {
                    assertEquals("b", b.model().id());
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            }));
        for (Thread t : threads) t.join();
        assertEquals(List.of("load b"), events);
        p.closeAll();
        assertEquals(List.of("load b", "unload b"), events);
        assertEquals(503, assertThrows(ApiException.class, () -> p.acquire("b")).status);
    }
}
