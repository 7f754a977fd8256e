package dev.lockstep.train;

import dev.lockstep.LockstepException;
import dev.lockstep.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A text corpus as token streams: lines are grouped in chunks of 64; every 20th chunk goes to the
 * held-out split (5%, spread over the whole text), the rest to training. Lines are joined by newlines.
 */
public record Corpus(int[] train, int[] heldOut) {

    public static String readText(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new LockstepException(file + ": no such corpus file (bin/fetch-corpus writes corpus/kjv.txt)");
        } catch (IOException e) {
            throw new LockstepException(file + ": cannot read: " + e.getMessage());
        }
    }

    public static Corpus of(String text, Tokenizer tok) {
        String[] lines = text.split("\n");
        StringBuilder train = new StringBuilder(), held = new StringBuilder();
        for (int i = 0; i < lines.length; i++) {
            StringBuilder sb = (i / 64) % 20 == 19 ? held : train;
            sb.append(lines[i]).append('\n');
        }
        return new Corpus(encode(tok, train.toString()), encode(tok, held.toString()));
    }

    /** Tokenizes in pieces of 1000 lines (no special tokens) and concatenates. */
    private static int[] encode(Tokenizer tok, String text) {
        List<int[]> parts = new ArrayList<>();
        int total = 0;
        String[] lines = text.split("(?<=\n)");
        for (int i = 0; i < lines.length; i += 1000) {
            int[] ids = tok.encode(String.join("", java.util.Arrays.copyOfRange(lines, i, Math.min(lines.length, i + 1000))), false, false);
            parts.add(ids);
            total += ids.length;
        }
        int[] all = new int[total];
        int o = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, all, o, p.length);
            o += p.length;
        }
        return all;
    }
}
