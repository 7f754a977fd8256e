package dev.lockstep.server;

import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.lockstep.engine.Engine;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A bounded load test on loopback: 64 concurrent streaming clients with mixed requests. Every request
 * ends with a result or an explicit error; a fixed probe request gives identical bits throughout;
 * KV usage returns to zero; /metrics agrees with what the clients counted.
 */
class ServerLoadTest {
    static final int CLIENTS = 64, REQUESTS = 192, PROBE_EVERY = 16;

    record Outcome(boolean ok, long completionTokens, int choices, String error) {}

    @Test
    void sixtyFourConcurrentStreamingClients() throws Exception {
        try (ServerFixture fx = new ServerFixture()) {
            OpenAIClient client = fx.sdk();
            CompletionCreateParams probe = CompletionCreateParams.builder().model(ServerFixture.MODEL_ID)
                    .prompt("The moon and the stars").maxTokens(16).temperature(0).logprobs(3).build();
            String reference = probeBits(client.completions().create(probe));
            double finishedBefore = fx.metric("lockstep_requests_finished_total");
            double generatedBefore = fx.metric("lockstep_generation_tokens_total");

            Semaphore concurrency = new Semaphore(CLIENTS);
            ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<String> probes = new ConcurrentLinkedQueue<>();
            AtomicInteger maxInFlight = new AtomicInteger(), inFlight = new AtomicInteger();
            List<Future<?>> futures = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < REQUESTS; i++) {
                    int k = i;
                    concurrency.acquire();
                    futures.add(pool.submit(() -> {
                        maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                        try {
                            if (k % PROBE_EVERY == 0) probes.add(probeBits(client.completions().create(probe)));
                            else outcomes.add(run(client, k));
                        } finally {
                            inFlight.decrementAndGet();
                            concurrency.release();
                        }
                        return null;
                    }));
                }
                for (Future<?> f : futures) f.get();
            }
            assertEquals(REQUESTS - REQUESTS / PROBE_EVERY, outcomes.size(), "every request ended");
            List<String> errors = outcomes.stream().filter(o -> !o.ok()).map(Outcome::error).toList();
            assertTrue(errors.isEmpty(), "explicit errors under a load the server can queue: " + errors);
            assertEquals(REQUESTS / PROBE_EVERY, probes.size());
            for (String p : probes) assertEquals(reference, p, "the probe's tokens and logprob bits changed under load");
            assertTrue(maxInFlight.get() > CLIENTS / 2, "the test really ran concurrently: " + maxInFlight.get());

            Engine engine = fx.server.engine();
            Engine.Stats s = engine.stats();
            assertEquals(0, s.kvBlocksUsed(), "KV blocks still held after the load");
            assertEquals(0, s.running());
            assertEquals(0, s.waiting());
            long choices = outcomes.stream().mapToLong(Outcome::choices).sum() + probes.size();
            long tokens = outcomes.stream().mapToLong(Outcome::completionTokens).sum() + 16L * probes.size();
            assertEquals(choices, fx.metric("lockstep_requests_finished_total") - finishedBefore, 0.0);
            assertEquals(tokens, fx.metric("lockstep_generation_tokens_total") - generatedBefore, 0.0);
            assertEquals(0, fx.metric("lockstep_kv_blocks_used"));
        }
    }

    /** Text and logprob bits of a probe answer. */
    static String probeBits(Completion c) {
        var ch = c.choices().get(0);
        StringBuilder sb = new StringBuilder(ch.text()).append('|');
        for (Double d : ch.logprobs().orElseThrow().tokenLogprobs().orElseThrow())
            sb.append(Integer.toHexString(Float.floatToRawIntBits(d.floatValue()))).append(',');
        return sb.toString();
    }

    /** One mixed request: streaming chat or completion, different lengths, seeds, temperatures, n. */
    static Outcome run(OpenAIClient client, int k) {
        String[] prompts = {"Once upon a time", "The dragon", "In the garden there was", "Tell me about the sea",
                "A very long time ago, in a small village, there lived"};
        String prompt = prompts[k % prompts.length];
        long maxTokens = 4 + (k * 7) % 29;
        double temperature = (k % 3) * 0.5;
        try {
            if (k % 2 == 0) {
                long n = 1 + k % 2 + (k % 10 == 4 ? 1 : 0);
                ChatCompletionCreateParams p = ChatCompletionCreateParams.builder().model(ServerFixture.MODEL_ID)
                        .addUserMessage(prompt).maxCompletionTokens(maxTokens).temperature(temperature).seed(k).n(n)
                        .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
                AtomicLong usage = new AtomicLong(-1);
                AtomicInteger finished = new AtomicInteger();
                try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(p)) {
                    s.stream().forEach(ch -> {
                        ch.usage().ifPresent(u -> usage.set(u.completionTokens()));
                        for (var c : ch.choices()) if (c.finishReason().isPresent()) finished.incrementAndGet();
                    });
                }
                if (usage.get() < 0 || finished.get() != n) return new Outcome(false, 0, 0, "incomplete stream for request " + k);
                return new Outcome(true, usage.get(), (int) n, null);
            } else {
                CompletionCreateParams p = CompletionCreateParams.builder().model(ServerFixture.MODEL_ID).prompt(prompt)
                        .maxTokens(maxTokens).temperature(temperature).seed(k)
                        .streamOptions(com.openai.models.chat.completions.ChatCompletionStreamOptions.builder().includeUsage(true).build())
                        .build();
                AtomicLong usage = new AtomicLong(-1);
                AtomicInteger finished = new AtomicInteger();
                try (var s = client.completions().createStreaming(p)) {
                    s.stream().forEach(c -> {
                        c.usage().ifPresent(u -> usage.set(u.completionTokens()));
                        for (var ch : c.choices()) if (ch._finishReason().asKnown().isPresent()) finished.incrementAndGet();
                    });
                }
                if (usage.get() < 0 || finished.get() != 1) return new Outcome(false, 0, 0, "incomplete stream for request " + k);
                return new Outcome(true, usage.get(), 1, null);
            }
        } catch (OpenAIServiceException e) {
            return new Outcome(false, 0, 0, e.statusCode() + " " + e.getMessage());
        }
    }
}
