import Gateway
import PostgresStore

extension GatewayConfig {
    /// The store `store` names: a SQLite file, or a PostgreSQL server (`postgres://...`) whose
    /// checkpoints of this instance go beside its journal.
    func openStore() throws -> any TelemetryStore {
        guard storeIsServer else { return try SQLiteStore(path: store) }
        return try PostgresStore(url: store, local: journalPath + ".checkpoints.sqlite", definitions: [])
    }

    /// A store to read from (`gateway export`, `score`): a SQLite file or a PostgreSQL URL.
    static func readStore(_ location: String) throws -> any TelemetryStore {
        var config = GatewayConfig()
        config.store = location
        return try config.openStore()
    }
}
