/// Composite-indicator pipeline.
public enum IndexEngine {}
