import Testing

/// Every integration suite is nested here and runs one test at a time, as they start brokers,
/// certificate tools and the tool itself as processes.
@Suite(.serialized) enum Integration {}
