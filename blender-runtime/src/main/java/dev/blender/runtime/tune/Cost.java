package dev.blender.runtime.tune;

/** What a composition's price is measured in, per problem. */
public enum Cost {
    /** Tokens decoded by every model and stage (prompts and generations). */
    TOKENS("tokens per problem", "tokens"),
    /** Wall time of a request alone (work shared with other rows charged as if done again). */
    MILLIS("ms per problem", "ms");

    private final String label;
    private final String unit;

    Cost(String label, String unit) {
        this.label = label;
        this.unit = unit;
    }

    /** The axis label: {@code tokens per problem}. */
    public String label() {
        return label;
    }

    /** The unit after a number: {@code tokens}. */
    public String unit() {
        return unit;
    }

    /** This cost of a point. */
    public double of(Frontier.Point p) {
        return this == TOKENS ? p.tokens() : p.millis();
    }
}
