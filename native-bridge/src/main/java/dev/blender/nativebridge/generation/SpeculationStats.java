package dev.blender.nativebridge.generation;

/**
 * What speculative decoding did for one candidate ({@link Candidate#speculation()}); all zero without it.
 *
 * @param drafted      guessed tokens put through the model to be checked
 * @param accepted     of those, the tokens the candidate kept (each one read without a decode of its own)
 * @param decodes      decodes the candidate's tokens took after the prompt
 * @param decodesSaved decodes plain decoding would have taken for the same tokens, minus {@link #decodes}
 */
public record SpeculationStats(int drafted, int accepted, int decodes, int decodesSaved) {
    public static final SpeculationStats NONE = new SpeculationStats(0, 0, 0, 0);

    /** The sum of two, for a stage that generated several times. */
    public SpeculationStats plus(SpeculationStats o) {
        return new SpeculationStats(drafted + o.drafted, accepted + o.accepted, decodes + o.decodes,
                decodesSaved + o.decodesSaved);
    }

    /** Share of the guessed tokens kept (0 when none was guessed). */
    public double acceptanceRate() {
        return drafted == 0 ? 0 : (double) accepted / drafted;
    }
}
