package dev.blender.nativebridge;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * A Java model of a unified KV cache: which cells hold which sequences at which positions. v0.5.0 has
 * no {@code llama_kv_self_used_cells}, and both ABIs answer a position query for an empty sequence
 * differently (b4916: 0, v0.5.0: -1), so the context keeps this model to answer both the same way on
 * every ABI. It follows llama.cpp's rules: a decoded token takes one cell shared by all its sequences,
 * a copy adds sequences to existing cells, a cell is free once no sequence holds it, and a shift that
 * moves a position below 0 drops the cell. {@code KvCellsTest} checks it against b4916's own count
 * after random operation sequences. Not thread-safe: owned by one {@link LlamaContext}, whose methods
 * are synchronized.
 */
final class KvCells {
    private static final class Cell {
        int pos;
        final BitSet seqs;

        Cell(int pos, BitSet seqs) {
            this.pos = pos;
            this.seqs = seqs;
        }
    }

    private final List<Cell> cells = new ArrayList<>();

    /** Cells held by at least one sequence. */
    int used() {
        return cells.size();
    }

    /** The largest position of a sequence, or -1 when it holds no cell. */
    int maxPosition(int seq) {
        int max = -1;
        for (Cell c : cells) {
            if (c.seqs.get(seq) && c.pos > max) {
                max = c.pos;
            }
        }
        return max;
    }

    /** Records a decoded batch: one cell per token. */
    void add(Batch batch) {
        for (int i = 0; i < batch.size(); i++) {
            BitSet seqs = new BitSet();
            for (int k = 0; k < batch.seqCount(i); k++) {
                seqs.set(batch.seqId(i, k));
            }
            cells.add(new Cell(batch.position(i), seqs));
        }
    }

    void clear() {
        cells.clear();
    }

    /** {@code seq < 0}: every sequence; {@code from < 0}: from 0; {@code to < 0}: to the end. */
    void remove(int seq, int from, int to) {
        cells.removeIf(c -> {
            if (!inRange(c.pos, from, to)) {
                return false;
            }
            if (seq < 0) {
                return true;
            }
            c.seqs.clear(seq);
            return c.seqs.isEmpty();
        });
    }

    void copy(int src, int dst, int from, int to) {
        if (src == dst) {
            return;
        }
        for (Cell c : cells) {
            if (c.seqs.get(src) && inRange(c.pos, from, to)) {
                c.seqs.set(dst);
            }
        }
    }

    void keep(int seq) {
        cells.removeIf(c -> {
            if (!c.seqs.get(seq)) {
                return true;
            }
            c.seqs.clear();
            c.seqs.set(seq);
            return false;
        });
    }

    void shift(int seq, int from, int to, int delta) {
        if (delta == 0) {
            return;
        }
        cells.removeIf(c -> {
            if (!c.seqs.get(seq) || !inRange(c.pos, from, to)) {
                return false;
            }
            c.pos += delta;
            return c.pos < 0;
        });
    }

    private static boolean inRange(int pos, int from, int to) {
        return pos >= Math.max(0, from) && (to < 0 || pos < to);
    }
}
