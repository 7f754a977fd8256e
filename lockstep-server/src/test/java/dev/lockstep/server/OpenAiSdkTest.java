package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The server driven through the official OpenAI Java SDK (and raw HTTP where the SDK cannot go). */
class OpenAiSdkTest {
    static ServerFixture fx;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        fx = new ServerFixture();
        client = fx.sdk();
    }

    @AfterAll
    static void stop() {
        fx.close();
    }

    private static ChatCompletionCreateParams.Builder chat(String user) {
        return ChatCompletionCreateParams.builder().model(ServerFixture.MODEL_ID).addUserMessage(user);
    }

    @Test
    void listsTheServedModel() {
        List<Model> models = client.models().list().data();
        assertEquals(1, models.size());
        assertEquals(ServerFixture.MODEL_ID, models.get(0).id());
    }

    @Test
    void chatStreamingEqualsNonStreaming() {
        ChatCompletionCreateParams p = chat("Tell me a story").maxCompletionTokens(24).temperature(0.8).seed(7).build();
        ChatCompletion c = client.chat().completions().create(p);
        String whole = c.choices().get(0).message().content().orElseThrow();
        assertFalse(whole.isEmpty());
        assertTrue(c.systemFingerprint().orElseThrow().startsWith("fp_"));
        assertEquals(24, c.usage().orElseThrow().completionTokens());

        ChatCompletionCreateParams ps = p.toBuilder().streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        StringBuilder streamed = new StringBuilder();
        long[] usage = {-1};
        String[] finish = {null};
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(ps)) {
            s.stream().forEach(chunk -> {
                chunk.usage().ifPresent(u -> usage[0] = u.completionTokens());
                for (ChatCompletionChunk.Choice ch : chunk.choices()) {
                    ch.delta().content().ifPresent(streamed::append);
                    ch.finishReason().ifPresent(f -> finish[0] = f.asString());
                }
            });
        }
        assertEquals(whole, streamed.toString());
        assertEquals(24, usage[0]);
        assertEquals("length", finish[0]);
    }

    @Test
    void sameSeedSameTextOtherSeedOtherText() {
        ChatCompletionCreateParams.Builder b = chat("Once upon a time").maxCompletionTokens(20).temperature(1.0);
        String a1 = client.chat().completions().create(b.seed(1).build()).choices().get(0).message().content().orElseThrow();
        String a2 = client.chat().completions().create(b.seed(1).build()).choices().get(0).message().content().orElseThrow();
        String other = client.chat().completions().create(b.seed(2).build()).choices().get(0).message().content().orElseThrow();
        assertEquals(a1, a2);
        assertNotEquals(a1, other);
    }

    @Test
    void nChoicesDifferAndEachIsReproducible() {
        ChatCompletion c = client.chat().completions().create(chat("Hello").maxCompletionTokens(12).temperature(1.0).seed(3).n(3).build());
        assertEquals(3, c.choices().size());
        ChatCompletion again = client.chat().completions().create(chat("Hello").maxCompletionTokens(12).temperature(1.0).seed(3).n(3).build());
        for (int i = 0; i < 3; i++)
            assertEquals(c.choices().get(i).message().content(), again.choices().get(i).message().content());
        assertNotEquals(c.choices().get(0).message().content(), c.choices().get(1).message().content());
    }

    @Test
    void stopSequenceEndsTheOutputBeforeIt() {
        String full = client.completions().create(CompletionCreateParams.builder().model(ServerFixture.MODEL_ID)
                .prompt("The little dog").maxTokens(30).temperature(0).build()).choices().get(0).text();
        String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
        Completion c = client.completions().create(CompletionCreateParams.builder().model(ServerFixture.MODEL_ID)
                .prompt("The little dog").maxTokens(30).temperature(0).stopOfStrings(List.of(stop, "\u0000never")).build());
        String text = c.choices().get(0).text();
        assertEquals(full.substring(0, full.indexOf(stop)), text);
        assertEquals("stop", c.choices().get(0).finishReason().asString());
    }

    @Test
    void echoedPromptLogprobsEqualTheLogprobsOfGeneratedTokens() {
        // generate greedily with logprobs, learning the exact token ids (return_token_ids)
        Completion gen = client.completions().create(CompletionCreateParams.builder().model(ServerFixture.MODEL_ID)
                .prompt("A cat sat").maxTokens(10).temperature(0).logprobs(2)
                .putAdditionalBodyProperty("return_token_ids", JsonValue.from(true)).build());
        var choice = gen.choices().get(0);
        List<Long> promptIds = choice._additionalProperties().get("prompt_token_ids").convert(new com.fasterxml.jackson.core.type.TypeReference<List<Long>>() {});
        List<Long> genIds = choice._additionalProperties().get("token_ids").convert(new com.fasterxml.jackson.core.type.TypeReference<List<Long>>() {});
        List<Double> genLogprobs = choice.logprobs().orElseThrow().tokenLogprobs().orElseThrow();
        assertEquals(10, genIds.size());

        // score prompt + generated tokens: echo, max_tokens 0
        List<Long> all = new ArrayList<>(promptIds);
        all.addAll(genIds);
        Completion scored = client.completions().create(CompletionCreateParams.builder().model(ServerFixture.MODEL_ID)
                .promptOfArrayOfTokens(all).maxTokens(0).echo(true).logprobs(2).build());
        var lp = scored.choices().get(0).logprobs().orElseThrow();
        List<Double> scoredLogprobs = lp.tokenLogprobs().orElseThrow();
        assertEquals(all.size(), scoredLogprobs.size());
        assertNull(scoredLogprobs.get(0), "the first prompt token has no logprob");
        for (int i = 0; i < genIds.size(); i++) {
            float g = genLogprobs.get(i).floatValue(), s = scoredLogprobs.get(promptIds.size() + i).floatValue();
            assertEquals(Float.floatToRawIntBits(g), Float.floatToRawIntBits(s), "token " + i + ": " + g + " vs " + s);
        }
        assertEquals(0, scored.usage().orElseThrow().completionTokens());
        assertEquals(all.size(), lp.textOffset().orElseThrow().size());
    }

    @Test
    void chatLogprobsComeWithTopAlternatives() {
        ChatCompletion c = client.chat().completions().create(chat("Hi").maxCompletionTokens(5).temperature(0)
                .logprobs(true).topLogprobs(3).build());
        var content = c.choices().get(0).logprobs().orElseThrow().content().orElseThrow();
        assertEquals(5, content.size());
        for (var e : content) {
            assertEquals(3, e.topLogprobs().size());
            assertEquals(e.logprob(), e.topLogprobs().get(0).logprob(), "greedy: the chosen token is the top one");
        }
    }

    @Test
    void errorsNameTheProblem() {
        NotFoundException nf = assertThrows(NotFoundException.class, () ->
                client.chat().completions().create(ChatCompletionCreateParams.builder().model("gpt-4o").addUserMessage("x").build()));
        assertTrue(nf.getMessage().contains("gpt-4o"));

        BadRequestException temp = assertThrows(BadRequestException.class, () ->
                client.chat().completions().create(chat("x").temperature(3.5).build()));
        assertEquals("temperature", temp.param().orElseThrow());

        String longPrompt = "word ".repeat(400);
        BadRequestException tooLong = assertThrows(BadRequestException.class, () ->
                client.completions().create(CompletionCreateParams.builder().model(ServerFixture.MODEL_ID).prompt(longPrompt).build()));
        assertEquals("context_length_exceeded", tooLong.code().orElseThrow());
        assertTrue(tooLong.getMessage().contains("context length is 128"), tooLong.getMessage());

        OpenAIClient wrongKey = OpenAIOkHttpClient.builder().baseUrl(fx.base() + "/v1").apiKey("nope").maxRetries(0).build();
        assertThrows(UnauthorizedException.class, () -> wrongKey.models().list());
    }

    @Test
    void rawHttpErrors() throws Exception {
        HttpResponse<String> r = fx.post("/v1/chat/completions", "{\"messages\": [");
        assertEquals(400, r.statusCode());
        assertTrue(fx.parse(r.body()).at("/error/message").asText().startsWith("invalid JSON"));

        r = fx.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": \"ten\"}");
        assertEquals(400, r.statusCode());
        assertEquals("max_tokens", fx.parse(r.body()).at("/error/param").asText());

        r = fx.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}");
        assertEquals(400, r.statusCode());
        assertEquals("messages[0].role", fx.parse(r.body()).at("/error/param").asText());

        r = fx.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\"}]}");
        assertEquals(400, r.statusCode());
        assertEquals("messages[0].content", fx.parse(r.body()).at("/error/param").asText());
        r = fx.post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": null},"
                + " {\"role\": \"user\", \"content\": \"y\"}], \"max_tokens\": 2}");
        assertEquals(200, r.statusCode(), r.body());

        r = fx.post("/v1/completions", "{\"prompt\": []}");
        assertEquals(400, r.statusCode());
        assertEquals("prompt must not be an empty list", fx.parse(r.body()).at("/error/message").asText());

        r = fx.get("/v1/nothing-here");
        assertEquals(404, r.statusCode());
        assertEquals("not_found", fx.parse(r.body()).at("/error/code").asText());

        r = fx.post("/v1/completions", "{\"prompt\": \"" + "a".repeat(5 << 20) + "\"}");
        assertEquals(413, r.statusCode());
        assertEquals("request_too_large", fx.parse(r.body()).at("/error/code").asText());

        HttpResponse<String> health = fx.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(fx.base() + "/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), "/health needs no key");
        HttpResponse<String> noKey = fx.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(fx.base() + "/v1/models")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(401, noKey.statusCode());
    }

    @Test
    void tokenizeAndDetokenizeRoundTrip() throws Exception {
        JsonNode t = fx.parse(fx.post("/tokenize", "{\"prompt\": \"Once upon a time\"}").body());
        assertTrue(t.get("count").asInt() > 0);
        JsonNode d = fx.parse(fx.post("/detokenize", "{\"tokens\": " + t.get("tokens") + "}").body());
        assertTrue(d.get("prompt").asText().endsWith("Once upon a time"), d.toString());
        HttpResponse<String> bad = fx.post("/detokenize", "{\"tokens\": [1, 999999]}");
        assertEquals(400, bad.statusCode());
        assertTrue(bad.body().contains("999999"));
    }

    @Test
    void logitBiasBansAndForcesTokensAndLeavesLogprobsTheModels() throws Exception {
        String base = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 6, \"temperature\": 0, \"return_token_ids\": true, \"logprobs\": 0";
        JsonNode plain = fx.parse(fx.post("/v1/completions", base + "}").body()).at("/choices/0");
        int first = plain.at("/token_ids/0").asInt();
        JsonNode banned = fx.parse(fx.post("/v1/completions", base + ", \"logit_bias\": {\"" + first + "\": -100}}").body()).at("/choices/0");
        assertNotEquals(first, banned.at("/token_ids/0").asInt(), "-100 bans the greedy choice");
        JsonNode word = fx.parse(fx.post("/tokenize", "{\"prompt\": \"the\", \"add_special_tokens\": false}").body()).get("tokens");
        int forced = word.get(word.size() - 1).asInt();
        if (forced == first) forced = word.get(0).asInt() + 1;
        String bias = ", \"logit_bias\": {\"" + forced + "\": 100}";
        JsonNode all = fx.parse(fx.post("/v1/completions", base + bias + "}").body()).at("/choices/0");
        for (JsonNode t : all.get("token_ids")) assertEquals(forced, t.asInt(), "+100 forces the token at every step");
        // logprobs stay the model's: the forced token is not given probability 1
        assertTrue(all.at("/logprobs/token_logprobs/0").asDouble() < -0.01, all.toString());

        // through the SDK, in a chat completion: the same bits as the raw request
        ChatCompletion c = client.chat().completions().create(chat("Hi").maxCompletionTokens(3).temperature(0)
                .logitBias(ChatCompletionCreateParams.LogitBias.builder().putAdditionalProperty(Integer.toString(forced), JsonValue.from(100)).build())
                .build());
        JsonNode raw = fx.parse(fx.post("/v1/chat/completions", "{\"model\": \"" + ServerFixture.MODEL_ID + "\", \"messages\": "
                + "[{\"role\": \"user\", \"content\": \"Hi\"}], \"max_completion_tokens\": 3, \"temperature\": 0, "
                + "\"return_token_ids\": true" + bias + "}").body()).at("/choices/0");
        for (JsonNode t : raw.get("token_ids")) assertEquals(forced, t.asInt());
        assertEquals(raw.at("/message/content").asText(), c.choices().get(0).message().content().orElseThrow());

        HttpResponse<String> r = fx.post("/v1/completions", "{\"prompt\": \"x\", \"logit_bias\": {\"999999\": 5}}");
        assertEquals(400, r.statusCode());
        assertEquals("logit_bias", fx.parse(r.body()).at("/error/param").asText());
        assertTrue(r.body().contains("999999"), r.body());
        r = fx.post("/v1/completions", "{\"prompt\": \"x\", \"logit_bias\": {\"5\": 150}}");
        assertEquals(400, r.statusCode());
        assertTrue(r.body().contains("between -100 and 100"), r.body());
        r = fx.post("/v1/completions", "{\"prompt\": \"x\", \"logit_bias\": {\"five\": 1}}");
        assertEquals(400, r.statusCode());
        assertTrue(r.body().contains("'five'"), r.body());
    }

    @Test
    void fieldsTheServerDoesNotImplementAreRefusedByName() throws Exception {
        String msg = "\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 2";
        HttpResponse<String> r = fx.post("/v1/chat/completions", "{" + msg + ", \"temprature\": 0.5}");
        assertEquals(400, r.statusCode());
        assertEquals("temprature", fx.parse(r.body()).at("/error/param").asText());
        assertEquals("unrecognized request argument supplied: temprature", fx.parse(r.body()).at("/error/message").asText());

        r = fx.post("/v1/chat/completions", "{" + msg + ", \"functions\": []}");
        assertEquals(400, r.statusCode());
        assertTrue(r.body().contains("use tools"), r.body());

        r = fx.post("/v1/chat/completions", "{" + msg + ", \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {}}}");
        assertEquals(400, r.statusCode());
        assertEquals("response_format.json_schema.schema", fx.parse(r.body()).at("/error/param").asText());
        r = fx.post("/v1/chat/completions", "{" + msg + ", \"response_format\": {\"type\": \"json_schema\", \"json_schema\": "
                + "{\"name\": \"z\", \"schema\": {\"type\": \"object\", \"properties\": {\"zip\": {\"type\": \"string\", \"pattern\": \"[0-9]+\"}}}}}}");
        assertEquals(400, r.statusCode());
        assertTrue(fx.parse(r.body()).at("/error/message").asText().contains("'pattern' at /properties/zip is not supported"), r.body());
        r = fx.post("/v1/chat/completions", "{" + msg + ", \"response_format\": {\"type\": \"text\"}}");
        assertEquals(200, r.statusCode(), r.body());

        r = fx.post("/v1/completions", "{\"prompt\": \"x\", \"messages\": []}");
        assertEquals(400, r.statusCode(), "chat's field on the text endpoint");
        assertEquals("messages", fx.parse(r.body()).at("/error/param").asText());
        r = fx.post("/tokenize", "{\"prompt\": \"x\", \"add_bos\": true}");
        assertEquals(400, r.statusCode());
        assertEquals("add_bos", fx.parse(r.body()).at("/error/param").asText());
    }

    /** JSON mode: the reply is one JSON object (or, cut by max_tokens, the start of one). */
    @Test
    void jsonModeRepliesWithAJsonObject() throws Exception {
        List<Integer> braces = new ArrayList<>(); // the tokens that are a closing brace
        try (dev.lockstep.gguf.GgufFile g = dev.lockstep.gguf.GgufFile.open(ServerFixture.MODEL)) {
            dev.lockstep.tokenizer.Tokenizer t = dev.lockstep.tokenizer.Tokenizer.fromGguf(g);
            for (int id = 0; id < t.size(); id++)
                if (new String(t.piece(id, false), java.nio.charset.StandardCharsets.UTF_8).strip().equals("}")) braces.add(id);
        }
        assertFalse(braces.isEmpty());
        var bias = ChatCompletionCreateParams.LogitBias.builder();
        for (int id : braces) bias.putAdditionalProperty(Integer.toString(id), JsonValue.from(6));
        int closed = 0;
        for (long seed = 0; seed < 6; seed++) {
            ChatCompletion c = client.chat().completions().create(chat("Describe a cat in JSON").maxCompletionTokens(48).seed(seed)
                    .temperature(1.0).responseFormat(com.openai.models.ResponseFormatJsonObject.builder().build())
                    .logitBias(bias.build()).build());
            String text = c.choices().get(0).message().content().orElseThrow();
            long state = dev.lockstep.sampling.JsonGrammar.run(dev.lockstep.sampling.JsonGrammar.START_STATE,
                    text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            assertNotEquals(dev.lockstep.sampling.JsonGrammar.REJECT, state, text);
            if (c.choices().get(0).finishReason().equals(ChatCompletion.Choice.FinishReason.STOP)) {
                assertTrue(fx.parse(text).isObject(), text);
                closed++;
            }
        }
        assertTrue(closed > 0, "some replies close their object");
        // the same request streamed gives the same text
        String body = "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 24, \"seed\": 1, "
                + "\"response_format\": {\"type\": \"json_object\"}";
        String whole = fx.parse(fx.post("/v1/chat/completions", body + "}").body()).at("/choices/0/message/content").asText();
        StringBuilder streamed = new StringBuilder();
        for (String line : fx.post("/v1/chat/completions", body + ", \"stream\": true}").body().split("\n"))
            if (line.startsWith("data: {")) streamed.append(fx.parse(line.substring(6)).at("/choices/0/delta/content").asText(""));
        assertEquals(whole, streamed.toString());
    }

    /** Structured outputs: every finished reply is valid for the schema, in the schema's key order. */
    @Test
    void jsonSchemaRepliesFollowTheSchema() throws Exception {
        String schema = "{\"type\": \"object\", \"properties\": {\"ok\": {\"type\": \"boolean\"}, \"n\": {\"type\": \"integer\"},"
                + " \"color\": {\"enum\": [\"red\", \"green\"]}}, \"required\": [\"ok\", \"n\", \"color\"], \"additionalProperties\": false}";
        int finished = 0;
        for (int seed = 0; seed < 4; seed++) {
            String body = "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 86, \"seed\": " + seed + ", \"n\": 2,"
                    + " \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"answer\", \"strict\": true, \"schema\": " + schema + "}}}";
            HttpResponse<String> r = fx.post("/v1/chat/completions", body);
            assertEquals(200, r.statusCode(), r.body());
            for (JsonNode c : fx.parse(r.body()).get("choices")) {
                String text = c.at("/message/content").asText();
                if (!c.get("finish_reason").asText().equals("stop")) continue;
                finished++;
                JsonNode v = fx.parse(text);
                assertEquals(List.of("ok", "n", "color"), fieldNames(v), text);
                assertTrue(v.get("ok").isBoolean() && v.get("n").isIntegralNumber(), text);
                assertTrue(List.of("red", "green").contains(v.get("color").asText()), text);
            }
        }
        assertTrue(finished >= 4, "finished replies: " + finished);
    }

    private static List<String> fieldNames(JsonNode o) {
        List<String> out = new ArrayList<>();
        o.fieldNames().forEachRemaining(out::add);
        return out;
    }

    /** Function calling: tool_choice required or named gives one well-formed call of a listed tool. */
    @Test
    void toolCallsAreWellFormedCallsOfTheListedTools() throws Exception {
        com.openai.models.FunctionDefinition weather = com.openai.models.FunctionDefinition.builder().name("get_weather")
                .parameters(com.openai.models.FunctionParameters.builder()
                        .putAdditionalProperty("type", JsonValue.from("object"))
                        .putAdditionalProperty("properties", JsonValue.from(java.util.Map.of(
                                "unit", java.util.Map.of("enum", List.of("celsius", "fahrenheit")))))
                        .putAdditionalProperty("required", JsonValue.from(List.of("unit"))).build()).build();
        com.openai.models.FunctionDefinition time = com.openai.models.FunctionDefinition.builder().name("get_time").build();
        int called = 0;
        for (long seed = 0; seed < 4; seed++) {
            ChatCompletion c = client.chat().completions().create(chat("Weather?").maxCompletionTokens(70).seed(seed)
                    .addFunctionTool(weather).addFunctionTool(time)
                    .toolChoice(com.openai.models.chat.completions.ChatCompletionToolChoiceOption.Auto.REQUIRED).build());
            var choice = c.choices().get(0);
            if (!choice.finishReason().equals(ChatCompletion.Choice.FinishReason.TOOL_CALLS)) {
                assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, choice.finishReason());
                continue;
            }
            called++;
            var call = choice.message().toolCalls().orElseThrow().get(0).asFunction();
            assertTrue(call.id().startsWith("call_"));
            JsonNode args = fx.parse(call.function().arguments());
            if (call.function().name().equals("get_weather")) {
                assertTrue(List.of("celsius", "fahrenheit").contains(args.get("unit").asText()), args.toString());
            } else {
                assertEquals("get_time", call.function().name());
                assertTrue(args.isObject() && args.isEmpty(), args.toString());
            }
            assertTrue(choice.message().content().isEmpty());
        }
        assertTrue(called >= 2, "calls made: " + called);

        // a named function; streamed, the call arrives as OpenAI sends one (id and name, then arguments), and the
        // SDK's own accumulator puts together the plain reply
        String body = "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 80, \"seed\": 3, \"tools\": ["
                + "{\"type\": \"function\", \"function\": {\"name\": \"get_time\"}}, {\"type\": \"function\", \"function\": {\"name\": \"noop\"}}],"
                + " \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"noop\"}}";
        JsonNode plain = fx.parse(fx.post("/v1/chat/completions", body + "}").body()).at("/choices/0");
        assertEquals("tool_calls", plain.get("finish_reason").asText(), plain.toString());
        assertEquals("noop", plain.at("/message/tool_calls/0/function/name").asText());
        JsonNode last = null;
        int deltas = 0;
        for (String line : fx.post("/v1/chat/completions", body + ", \"stream\": true}").body().split("\n"))
            if (line.startsWith("data: {")) {
                last = fx.parse(line.substring(6));
                if (last.at("/choices/0/delta/tool_calls").isArray()) deltas++;
            }
        assertEquals("tool_calls", last.at("/choices/0/finish_reason").asText(), last.toString());
        assertEquals(2, deltas, "a call's name, then its arguments");
        com.openai.helpers.ChatCompletionAccumulator acc = com.openai.helpers.ChatCompletionAccumulator.create();
        try (var stream = client.chat().completions().createStreaming(chat("x").maxCompletionTokens(80).seed(3)
                .addFunctionTool(com.openai.models.FunctionDefinition.builder().name("get_time").build())
                .addFunctionTool(com.openai.models.FunctionDefinition.builder().name("noop").build())
                .toolChoice(com.openai.models.chat.completions.ChatCompletionNamedToolChoice.builder()
                        .function(com.openai.models.chat.completions.ChatCompletionNamedToolChoice.Function.builder().name("noop").build()).build())
                .build())) {
            stream.stream().forEach(acc::accumulate);
        }
        var streamed = acc.chatCompletion().choices().get(0);
        assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, streamed.finishReason());
        var fn = streamed.message().toolCalls().orElseThrow().get(0).asFunction().function();
        assertEquals(plain.at("/message/tool_calls/0/function/name").asText(), fn.name());
        assertEquals(plain.at("/message/tool_calls/0/function/arguments").asText(), fn.arguments());

        // a conversation that used a tool goes back through the template
        String history = "{\"messages\": [{\"role\": \"user\", \"content\": \"time?\"}, {\"role\": \"assistant\", \"content\": null, "
                + "\"tool_calls\": [{\"id\": \"call_1\", \"type\": \"function\", \"function\": {\"name\": \"get_time\", \"arguments\": \"{}\"}}]},"
                + " {\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"content\": \"12:00\"}], \"max_tokens\": 4}";
        assertEquals(200, fx.post("/v1/chat/completions", history).statusCode());
        HttpResponse<String> bad = fx.post("/v1/chat/completions", body.replace("\"name\": \"noop\"}}\"", "\"name\": \"nope\"}}\"")
                .replace("\"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"noop\"}}", "\"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"nope\"}}") + "}");
        assertEquals(400, bad.statusCode());
        assertTrue(bad.body().contains("'nope', which is not among the tools"), bad.body());
    }

    /** vLLM's min_tokens and stop_token_ids, with their errors. */
    @Test
    void minTokensAndStopTokenIds() throws Exception {
        String base = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 12, \"temperature\": 0, \"return_token_ids\": true";
        int eos = 2; // the llama-style vocabulary of the fixture model: </s>
        JsonNode forced = fx.parse(fx.post("/v1/completions", base + ", \"logit_bias\": {\"" + eos + "\": 100}, \"min_tokens\": 4}").body()).at("/choices/0");
        assertEquals("stop", forced.get("finish_reason").asText(), forced.toString());
        assertEquals(5, forced.get("token_ids").size(), "four tokens, then the end of text: " + forced);
        JsonNode plain = fx.parse(fx.post("/v1/completions", base + ", \"ignore_eos\": true}").body()).at("/choices/0");
        int third = plain.at("/token_ids/2").asInt();
        JsonNode stopped = fx.parse(fx.post("/v1/completions", base + ", \"ignore_eos\": true, \"stop_token_ids\": [" + third + "]}").body())
                .at("/choices/0");
        assertEquals("stop", stopped.get("finish_reason").asText());
        assertEquals(third, stopped.at("/token_ids/" + (stopped.get("token_ids").size() - 1)).asInt());
        assertTrue(stopped.get("token_ids").size() <= 3);

        HttpResponse<String> r = fx.post("/v1/completions", base + ", \"stop_token_ids\": [999999]}");
        assertEquals(400, r.statusCode());
        assertEquals("stop_token_ids", fx.parse(r.body()).at("/error/param").asText());
        r = fx.post("/v1/completions", base + ", \"min_tokens\": 13}");
        assertEquals(400, r.statusCode());
        assertEquals("min_tokens", fx.parse(r.body()).at("/error/param").asText());
    }
}
