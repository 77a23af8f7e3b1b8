import Foundation
import Gateway
import PostgresStore

extension GatewayConfig {
    /// The store `store` names: a SQLite file, or a PostgreSQL server (`postgres://...`) whose
    /// checkpoints of this instance go beside its journal.
    public func openStore() throws -> any TelemetryStore {
        guard storeIsServer else { return try SQLiteStore(path: store) }
        return try PostgresStore(url: store, local: journalPath + ".checkpoints.sqlite", definitions: [])
    }

    /// A store to read from (`gateway export`, `score`): a SQLite file that exists, or a
    /// PostgreSQL URL (read without a checkpoint file of its own).
    public static func readStore(_ location: String) throws -> any TelemetryStore {
        var config = GatewayConfig()
        config.store = location
        if config.storeIsServer { return try PostgresStore(url: location, local: nil, definitions: []) }
        guard FileManager.default.fileExists(atPath: location) else {
            throw RunFailure("\(location): no such store; run 'smartcity gateway' first, or give the gateway's --store file or postgres:// URL")
        }
        return try SQLiteStore(path: location)
    }

    /// The final merge of a split into `partitions` (every window in the store): the number of
    /// indicator values written.
    public static func merge(_ config: GatewayConfig, partitions: Int) throws -> Int {
        let store = try PostgresStore(url: config.store, local: nil, definitions: [])
        let definitions = try config.indicatorDefinitions()
        try store.define(definitions)
        let merger = IndicatorMerger(store: store, config: config, partitions: partitions, definitions: definitions)
        return try merger.step(final: true).count
    }
}
