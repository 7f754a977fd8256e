package dev.lockstep.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.lockstep.engine.Embedder;
import dev.lockstep.gguf.GgufFile;
import dev.lockstep.kernels.Activations;
import dev.lockstep.model.ModelLoader;
import dev.lockstep.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code POST /v1/embeddings} through the OpenAI Java SDK and raw HTTP, against the engine's own Embedder. */
class EmbeddingsServerTest {
    static ServerFixture fx;
    static OpenAIClient client;
    static final List<String> TEXTS = List.of("Once upon a time, there was a little girl", "The cat sat on the mat.", "Hello");
    static float[][] direct = new float[TEXTS.size()][];
    static int[] tokenCounts = new int[TEXTS.size()];

    @BeforeAll
    static void start() throws Exception {
        fx = new ServerFixture();
        client = fx.sdk();
        try (GgufFile f = GgufFile.open(ServerFixture.MODEL); Embedder e = new Embedder(ModelLoader.load(f), 1, Activations.F32)) {
            Tokenizer tok = Tokenizer.fromGguf(f);
            for (int i = 0; i < TEXTS.size(); i++) {
                int[] ids = tok.encode(TEXTS.get(i), true, false);
                tokenCounts[i] = ids.length;
                direct[i] = e.embed(ids, Embedder.Pooling.MEAN, true);
            }
        }
    }

    @AfterAll
    static void stop() {
        fx.close();
    }

    static float[] floats(List<Float> v) {
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) out[i] = v.get(i);
        return out;
    }

    @Test
    void theSdkGetsTheEngineBitsWhateverElseTheRequestHolds() {
        CreateEmbeddingResponse all = client.embeddings().create(EmbeddingCreateParams.builder().model(ServerFixture.MODEL_ID)
                .input(EmbeddingCreateParams.Input.ofArrayOfStrings(TEXTS)).encodingFormat(EmbeddingCreateParams.EncodingFormat.FLOAT).build());
        assertEquals(TEXTS.size(), all.data().size());
        long tokens = 0;
        for (int i = 0; i < TEXTS.size(); i++) {
            assertEquals(i, all.data().get(i).index());
            assertArrayEquals(direct[i], floats(all.data().get(i).embedding()), "input " + i);
            tokens += tokenCounts[i];
        }
        assertEquals(tokens, all.usage().promptTokens());
        assertEquals(ServerFixture.MODEL_ID, all.model());
        // one input alone, and among others in another order: the same vector
        CreateEmbeddingResponse one = client.embeddings().create(EmbeddingCreateParams.builder().model(ServerFixture.MODEL_ID)
                .input(TEXTS.get(1)).encodingFormat(EmbeddingCreateParams.EncodingFormat.FLOAT).build());
        assertArrayEquals(direct[1], floats(one.data().getFirst().embedding()));
        // the SDK's default request (base64 on the wire, decoded by the SDK) gives the same floats
        CreateEmbeddingResponse dflt = client.embeddings().create(EmbeddingCreateParams.builder().model(ServerFixture.MODEL_ID)
                .input(TEXTS.get(2)).build());
        assertArrayEquals(direct[2], floats(dflt.data().getFirst().embedding()));
    }

    @Test
    void base64TokenIdsAndDimensions() throws Exception {
        JsonNode b64 = fx.parse(fx.post("/v1/embeddings", "{\"input\": \"" + TEXTS.get(0) + "\", \"encoding_format\": \"base64\"}").body());
        ByteBuffer b = ByteBuffer.wrap(Base64.getDecoder().decode(b64.get("data").get(0).get("embedding").asText())).order(ByteOrder.LITTLE_ENDIAN);
        float[] v = new float[b.remaining() / 4];
        for (int i = 0; i < v.length; i++) v[i] = b.getFloat();
        assertArrayEquals(direct[0], v);

        JsonNode ids = fx.parse(fx.post("/tokenize", "{\"prompt\": \"" + TEXTS.get(0) + "\"}").body()).get("tokens");
        JsonNode byIds = fx.parse(fx.post("/v1/embeddings", "{\"input\": [" + ids + ", " + ids + "]}").body());
        for (int k = 0; k < 2; k++) {
            float[] got = new float[direct[0].length];
            for (int i = 0; i < got.length; i++) got[i] = byIds.get("data").get(k).get("embedding").get(i).floatValue();
            assertArrayEquals(direct[0], got, "token ids give the text's vector");
        }

        JsonNode cut = fx.parse(fx.post("/v1/embeddings", "{\"input\": \"" + TEXTS.get(0) + "\", \"dimensions\": 16}").body());
        float[] want = java.util.Arrays.copyOf(direct[0], 16);
        Embedder.normalize(want);
        float[] got = new float[16];
        for (int i = 0; i < 16; i++) got[i] = cut.get("data").get(0).get("embedding").get(i).floatValue();
        assertEquals(16, cut.get("data").get(0).get("embedding").size());
        assertArrayEquals(want, got, "the first 16 components, unit length again");
    }

    @Test
    void badInputIsAClearError() throws Exception {
        String[][] cases = {
                {"{}", "input is required"},
                {"{\"input\": []}", "input must not be an empty list"},
                {"{\"input\": \"\"}", "input is empty"},
                {"{\"input\": [\"a\", 3]}", "input[1] must be a string or a list of token ids"},
                {"{\"input\": [[1, 2], [999999]]}", "input[1][0] = 999999 is outside the vocabulary"},
                {"{\"input\": \"x\", \"dimensions\": 0}", "dimensions"},
                {"{\"input\": \"x\", \"dimensions\": 65}", "dimensions"},
                {"{\"input\": \"x\", \"encoding_format\": \"int8\"}", "encoding_format must be float or base64"},
                {"{\"input\": \"x\", \"model\": \"text-embedding-3-small\"}", "'text-embedding-3-small' does not exist"},
                {"{\"input\": \"" + "once upon a time ".repeat(60) + "\"}", "this model embeds at most 128"},
        };
        for (String[] c : cases) {
            HttpResponse<String> r = fx.post("/v1/embeddings", c[0]);
            assertTrue(r.statusCode() == 400 || r.statusCode() == 404, c[0] + " -> " + r.statusCode() + " " + r.body());
            String msg = fx.parse(r.body()).get("error").get("message").asText();
            assertTrue(msg.contains(c[1]), c[0] + " -> " + msg);
        }
    }
}
