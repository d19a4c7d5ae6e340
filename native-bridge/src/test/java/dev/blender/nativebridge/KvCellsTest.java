package dev.blender.nativebridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The Java model of the KV cache against llama.cpp's own bookkeeping, after random sequences of
 * decodes, copies, removals, keeps and shifts: its used-cell count against b4916's
 * {@code llama_kv_self_used_cells} (v0.5.0 has none, which is why the model exists), and on every ABI
 * each sequence's largest position against {@code seq_pos_max}.
 */
class KvCellsTest {
    private static final int SEQS = 4;

    @Test
    void modelFollowsLlamaCppThroughRandomOperations() {
        try (LlamaModel m = LlamaModel.load(TestModels.tiny());
             LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(512).withMaxSequences(SEQS));
             Batch batch = Batch.create(16, SEQS)) {
            SplittableRandom rnd = new SplittableRandom(7);
            for (int step = 0; step < 300; step++) {
                int seq = rnd.nextInt(SEQS);
                int next = ctx.sequenceMaxPosition(seq) + 1; // positions of a sequence stay consecutive
                switch (rnd.nextInt(6)) {
                    case 0, 1 -> { // decode 1..8 tokens of one sequence, sometimes shared with another
                        if (ctx.usedCells() > 400) {
                            ctx.clearKvCache();
                            break;
                        }
                        int n = 1 + rnd.nextInt(8);
                        batch.clear();
                        for (int i = 0; i < n; i++) {
                            batch.add(10 + rnd.nextInt(50), next + i, seq, i == n - 1);
                        }
                        ctx.decode(batch);
                    }
                    case 2 -> { // share the whole of one sequence with an empty one
                        int dst = (seq + 1 + rnd.nextInt(SEQS - 1)) % SEQS;
                        if (ctx.sequenceMaxPosition(dst) < 0) {
                            ctx.copySequence(seq, dst);
                        }
                    }
                    case 3 -> { // drop the tail of a sequence
                        ctx.removeSequence(seq, next == 0 ? 0 : rnd.nextInt(next + 1), -1);
                    }
                    case 4 -> {
                        if (rnd.nextInt(4) == 0) {
                            ctx.keepSequence(seq);
                        } else {
                            ctx.removeSequence(seq);
                        }
                    }
                    default -> { // shift a sequence's suffix back (context shifting)
                        if (next > 4) {
                            ctx.removeSequence(seq, 0, 2);
                            ctx.shiftSequence(seq, 2, -1, -2);
                        }
                    }
                }
                for (int s = 0; s < SEQS; s++) {
                    assertEquals(ctx.sequenceMaxPosition(s), ctx.trackedMaxPosition(s), "step " + step + ", sequence " + s);
                }
                if (LlamaBackend.abi() == LlamaAbi.B4916) {
                    assertEquals(ctx.nativeUsedCells(), ctx.usedCells(), "step " + step);
                }
            }
        }
    }

    @Test
    void countsSharedCellsOnceAgainstB4916() {
        assumeTrue(LlamaBackend.abi() == LlamaAbi.B4916, "only b4916 counts used cells natively");
        try (LlamaModel m = LlamaModel.load(TestModels.tiny());
             LlamaContext ctx = m.newContext(ContextOptions.defaults().withContextSize(128).withMaxSequences(3));
             Batch batch = Batch.create(8, 3)) {
            batch.add(11, 0, new int[] {0, 1, 2}, false);
            batch.add(12, 1, new int[] {0, 1, 2}, true);
            ctx.decode(batch);
            assertEquals(2, ctx.nativeUsedCells());
            assertEquals(2, ctx.usedCells());
            ctx.removeSequence(1);
            assertEquals(ctx.nativeUsedCells(), ctx.usedCells());
            ctx.removeSequence(-1, -1, -1);
            assertEquals(0, ctx.nativeUsedCells());
            assertEquals(0, ctx.usedCells());
        }
    }
}
