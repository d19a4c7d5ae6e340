package dev.blender.nativebridge.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The rules every token loop shares, pinned once on a scripted source: the source makes token {@code script[i]}
 * the most likely at step i (greedy then writes exactly the script), and each token writes the bytes of
 * {@link #PIECES}.
 */
class TokenLoopTest {
    static final int END = 0;
    /** Token 5 and 6 are the two halves of "é" (0xC3 0xA9). */
    static final byte[][] PIECES = {new byte[0], b("Hel"), b("lo W"), b("or"), b("ld"), {(byte) 0xC3}, {(byte) 0xA9},
            b("!")};

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static final TokenLoop.Tokens TOKENS = new TokenLoop.Tokens() {
        @Override
        public boolean isEnd(int token) {
            return token == END;
        }

        @Override
        public byte[] piece(int token) {
            return PIECES[token];
        }
    };

    /** A source that scores the script's tokens in turn, fed until {@code room} tokens were fed. */
    static final class Script implements TokenLoop.Source {
        final int[] script;
        final int room;
        final float[] row = new float[PIECES.length];
        final List<Integer> fed = new ArrayList<>();
        Runnable onFeed = () -> {};
        int step;

        Script(int room, int... script) {
            this.script = script;
            this.room = room;
        }

        @Override
        public int next() {
            Arrays.fill(row, -5f);
            row[script[step++]] = -0.25f;
            return row.length;
        }

        @Override
        public float[] scores() {
            return row;
        }

        @Override
        public boolean feed(int token) {
            onFeed.run();
            if (fed.size() == room) {
                return false;
            }
            fed.add(token);
            return true;
        }
    }

    /** What a listener saw: the streamed text, the tokens, and the candidates it was told of. */
    static final class Seen implements TokenListener {
        final StringBuilder text = new StringBuilder();
        final List<Integer> tokens = new ArrayList<>();
        final List<Candidate> finished = new ArrayList<>();

        @Override
        public void onToken(int candidate, int token, String t) {
            text.append(t);
            tokens.add(token);
        }

        @Override
        public void onFinish(Candidate c) {
            finished.add(c);
        }
    }

    static Candidate run(DecodeOptions options, Script source, Seen seen) {
        return new TokenLoop(0, options, 0, new int[0], TOKENS, seen).run(source, 1.5);
    }

    @Test
    void aStopStringAcrossTokensEndsTheTextBeforeItAndIsNeverStreamed() {
        Seen seen = new Seen();
        Script source = new Script(100, 1, 2, 3, 4, 7);
        Candidate c = run(DecodeOptions.greedy(10).withStop(List.of("o Wor")), source, seen);
        assertEquals(FinishReason.STOP, c.finishReason());
        assertEquals("Hell", c.text());
        assertArrayEquals(new int[] {1, 2, 3}, c.tokens(), "the token that completed the stop is written");
        assertEquals("Hell", seen.text.toString(), "the held-back tail turned out a stop: never streamed");
        assertEquals(List.of(1, 2), source.fed, "the stopping token is not fed");
        assertEquals(List.of(c), seen.finished);
    }

    @Test
    void theEndTokenEndsUnwritten() {
        Seen seen = new Seen();
        Script source = new Script(100, 1, 2, END, 7);
        Candidate c = run(DecodeOptions.greedy(10), source, seen);
        assertEquals(FinishReason.END_OF_GENERATION, c.finishReason());
        assertEquals("Hello W", c.text());
        assertArrayEquals(new int[] {1, 2}, c.tokens());
        assertEquals(2, c.logProbs().length);
        assertEquals(-0.25f, c.logProbs()[1], "a token's log-probability is its entry in the source's row");
    }

    @Test
    void theLengthEndsAfterMaxTokensWritten() {
        Script source = new Script(100, 1, 2, 3, 4, 7);
        Candidate c = run(DecodeOptions.greedy(3), source, new Seen());
        assertEquals(FinishReason.LENGTH, c.finishReason());
        assertEquals("Hello Wor", c.text());
        assertEquals(3, source.step, "no scores asked for past the length");
        assertEquals(List.of(1, 2), source.fed);
    }

    @Test
    void aFullContextEndsWithTheTokenThatFoundNoRoomWritten() {
        Script source = new Script(2, 1, 2, 3, 4, 7);
        Candidate c = run(DecodeOptions.greedy(10), source, new Seen());
        assertEquals(FinishReason.CONTEXT_FULL, c.finishReason());
        assertArrayEquals(new int[] {1, 2, 3}, c.tokens());
        assertEquals("Hello Wor", c.text());
    }

    @Test
    void aCancellationEndsBeforeTheNextTokenAndBeforeTheFirst() {
        Cancellation cancel = new Cancellation();
        Script source = new Script(100, 1, 2, 3, 4, 7);
        source.onFeed = () -> {
            if (source.fed.size() == 1) {
                cancel.cancel(); // while the second token is fed
            }
        };
        Candidate c = run(DecodeOptions.greedy(10).withCancellation(cancel), source, new Seen());
        assertEquals(FinishReason.CANCELLED, c.finishReason());
        assertArrayEquals(new int[] {1, 2}, c.tokens());
        assertEquals(2, source.step);

        Script untouched = new Script(100, 1);
        Candidate none = run(DecodeOptions.greedy(10).withCancellation(cancel), untouched, new Seen());
        assertEquals(FinishReason.CANCELLED, none.finishReason());
        assertEquals(0, none.tokens().length);
        assertEquals(0, untouched.step, "no scores computed once cancelled");
    }

    @Test
    void streamingSendsWholeCharactersAndReleasesTheHeldBackTailAtTheEnd() {
        Seen seen = new Seen();
        Script source = new Script(100, 1, 5, 6, 7, END);
        Candidate c = run(DecodeOptions.greedy(10).withStop(List.of("!?")), source, seen);
        assertEquals(FinishReason.END_OF_GENERATION, c.finishReason());
        assertEquals("Helé!", c.text());
        assertEquals("Helé!", seen.text.toString());
        // "Hel", "" (half a character), "é", "" ("!" could begin the stop), then the tail released as token -1
        assertEquals(List.of(1, 5, 6, 7, -1), seen.tokens);
        assertEquals(1, seen.finished.size());
        assertEquals(1.5, c.promptMillis());
    }

    @Test
    void idsThatMeanNothingAcrossStepsAreRecordedAsMinusOne() {
        TokenLoop.Tokens union = new TokenLoop.Tokens() {
            @Override
            public boolean isEnd(int token) {
                return TOKENS.isEnd(token);
            }

            @Override
            public byte[] piece(int token) {
                return TOKENS.piece(token);
            }

            @Override
            public int id(int token) {
                return -1;
            }
        };
        Seen seen = new Seen();
        // a repetition penalty would read the history: without a context it reads none, so ids never matter
        DecodeOptions penalised = DecodeOptions.greedy(2).withSampler(SamplerOptions.greedy().withRepeatPenalty(50f, 64));
        Candidate c = new TokenLoop(0, penalised, 0, null, union, seen).run(new Script(100, 1, 1), 0);
        assertArrayEquals(new int[] {-1, -1}, c.tokens());
        assertEquals("HelHel", c.text());
    }

    @Test
    void theSteppedFormAppliesTheSameRules() {
        TokenLoop loop = new TokenLoop(3, DecodeOptions.greedy(2), 0, new int[] {7, 7}, TOKENS, TokenListener.NONE);
        assertTrue(loop.live());
        assertFalse(loop.cancelled());
        assertEquals(-1, loop.lastToken());
        assertTrue(loop.take(1, -1f));
        assertEquals(1, loop.lastToken());
        assertArrayEquals(new int[] {1}, loop.generatedTokens(), "the context is not output");
        assertThrows(IllegalStateException.class, () -> loop.result(0, List.of(), SpeculationStats.NONE),
                "a live sequence has no result yet");
        assertFalse(loop.take(2, -1f));
        assertEquals(FinishReason.LENGTH, loop.reason());
        loop.finish(FinishReason.CONTEXT_FULL);
        assertEquals(FinishReason.LENGTH, loop.reason(), "the first reason stands");
        loop.write(b("!"));
        Candidate c = loop.result(0, List.of(), SpeculationStats.NONE);
        assertEquals(3, c.index());
        assertEquals("Hello W!", c.text(), "text the caller writes joins the text, not the tokens");
        assertArrayEquals(new int[] {1, 2}, c.tokens());
    }

    @Test
    void theSamplerReadsTheContextForItsPenalty() {
        // token 1 leads by a little; a penalty on it (in the context) hands the pick to token 2
        float[] row = {-9f, 1.0f, 0.9f, -9f};
        SamplerOptions penalty = SamplerOptions.greedy().withRepeatPenalty(2f, 64);
        TokenLoop withContext = new TokenLoop(0, DecodeOptions.greedy(4).withSampler(penalty), 0, new int[] {1}, TOKENS,
                TokenListener.NONE);
        assertEquals(2, withContext.sample(row.clone(), row.length, -1));
        TokenLoop without = new TokenLoop(0, DecodeOptions.greedy(4).withSampler(penalty), 0, new int[0], TOKENS,
                TokenListener.NONE);
        assertEquals(1, without.sample(row.clone(), row.length, -1));
    }
}
