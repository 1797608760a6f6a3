import CLibPQ
import Foundation
public import Logging
public import PinguinClientKit

/// One PostgreSQL connection over libpq.
///
/// The connection is an actor on a ``ThreadExecutor`` of its own: every libpq call, blocking or
/// not, runs on that thread and never on Swift's cooperative pool, and the compiler checks that
/// the `PGconn` is touched from nowhere else. Statements wait for their answer with `poll(2)` in
/// short slices, so a cancelled task cancels its statement on the server (`PQcancel`).
public actor PostgresConnection {
    private let executor: ThreadExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public nonisolated let configuration: PostgresConfiguration
    private let logger: Logger
    /// The `PGconn *`; nil once closed.
    private var handle: OpaquePointer?
    /// Receives the server's notices and warnings; libpq holds an unretained pointer to it.
    private let noticeSink: NoticeSink

    private init(configuration: PostgresConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.executor = ThreadExecutor(name: "pinguin-pg")
        self.noticeSink = NoticeSink(logger: logger)
    }

    isolated deinit {
        if let handle { PQfinish(handle) }
        executor.shutdown()
    }

    /// Opens a connection; the error carries libpq's reason (never the password).
    public static func connect(configuration: PostgresConfiguration, logger: Logger) async throws(PostgresError) -> PostgresConnection {
        let connection = PostgresConnection(configuration: configuration, logger: logger)
        try await connection.open()
        return connection
    }

    private func open() throws(PostgresError) {
        let parameters = configuration.connectionParameters
        let conn: OpaquePointer? = withCStringArray(parameters.map(\.0)) { keywords in
            withCStringArray(parameters.map(\.1)) { values in
                PQconnectdbParams(keywords, values, 0)
            }
        }
        guard let conn else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let reason = errorMessage(conn)
            PQfinish(conn)
            throw PostgresError(code: .connectionFailed, message: "cannot connect to \(configuration): \(reason)")
        }
        // Notices go to the logger, not to libpq's default of writing on stderr.
        PQsetNoticeProcessor(conn, { context, message in
            guard let context, let message else { return }
            Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue().receive(String(cString: message))
        }, Unmanaged.passUnretained(noticeSink).toOpaque())
        handle = conn
        logger.debug("postgres connection opened", metadata: [
            "db.target": "\(configuration)", "db.backend_pid": "\(PQbackendPID(conn))",
        ])
    }

    /// The server process serving this connection (`pg_backend_pid()`).
    public var backendPID: Int32 {
        handle.map { PQbackendPID($0) } ?? 0
    }

    public var isClosed: Bool { handle == nil }

    /// The server's version as an integer, e.g. 150018 for 15.18.
    public var serverVersion: Int {
        handle.map { Int(PQserverVersion($0)) } ?? 0
    }

    public func close() {
        guard let handle else { return }
        PQfinish(handle)
        self.handle = nil
        logger.debug("postgres connection closed", metadata: ["db.target": "\(configuration)"])
    }

    // MARK: Statements

    /// Runs one statement with binary parameters `$1…$n` and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ binds: [any PostgresEncodable] = []) throws(PostgresError) -> PostgresRows {
        var values: [PostgresValue] = []
        values.reserveCapacity(binds.count)
        for (index, bind) in binds.enumerated() {
            do {
                values.append(try PostgresValue(encoding: bind))
            } catch {
                throw PostgresError(code: .encoding, message: "parameter $\(index + 1): \(error.message)")
            }
        }
        return try query(sql, values: values)
    }

    /// Runs one statement whose parameters are already encoded.
    @discardableResult
    public func query(_ sql: String, values: [PostgresValue]) throws(PostgresError) -> PostgresRows {
        let conn = try liveHandle()
        let sent = withParameters(values) { types, pointers, lengths, formats in
            PQsendQueryParams(conn, sql, Int32(values.count), types, pointers, lengths, formats, 1)
        }
        guard sent == 1 else { throw connectionError(conn, while: "sending a statement") }
        return try collectResult(conn)
    }

    /// Runs `sql`, which may hold several statements separated by semicolons (migrations, DDL),
    /// with the simple query protocol. Parameters are not supported here; results are discarded.
    public func execute(script sql: String) throws(PostgresError) {
        let conn = try liveHandle()
        guard PQsendQuery(conn, sql) == 1 else { throw connectionError(conn, while: "sending a script") }
        _ = try collectResult(conn)
    }

    /// Runs `COPY … FROM STDIN (FORMAT binary)` with the rows of `batch`; returns the rows copied.
    @discardableResult
    public func copy(_ sql: String, batch: PostgresCopyBatch) throws(PostgresError) -> Int {
        let conn = try liveHandle()
        guard PQsendQuery(conn, sql) == 1 else { throw connectionError(conn, while: "starting COPY") }
        try waitUntilReadable(conn)
        guard let start = PQgetResult(conn) else {
            throw PostgresError(code: .unexpectedResult, message: "COPY produced no result")
        }
        let status = PQresultStatus(start)
        if status != PGRES_COPY_IN {
            let error = resultError(start, status: status) ?? PostgresError(
                code: .unexpectedResult, message: "statement is not COPY … FROM STDIN")
            PQclear(start)
            _ = try? collectResult(conn)
            throw error
        }
        PQclear(start)
        let data = batch.finishedBytes()
        let chunkSize = 1 << 18
        var offset = 0
        var failure: PostgresError?
        data.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                while offset < chars.count {
                    let length = min(chunkSize, chars.count - offset)
                    if PQputCopyData(conn, chars.baseAddress! + offset, Int32(length)) != 1 {
                        failure = connectionError(conn, while: "sending COPY data")
                        return
                    }
                    offset += length
                }
            }
        }
        if let failure {
            if PQstatus(conn) != CONNECTION_OK { throw failure }
            PQputCopyEnd(conn, "client failed to send COPY data")
            _ = try? collectResult(conn)
            throw failure
        }
        guard PQputCopyEnd(conn, nil) == 1 else { throw connectionError(conn, while: "ending COPY") }
        return try collectResult(conn).affectedRows
    }

    /// Runs `body` in a transaction: `BEGIN`, then `COMMIT`, or `ROLLBACK` when `body` throws.
    public func withTransaction<T: Sendable>(
        _ body: (isolated PostgresConnection) throws -> T
    ) throws -> T {
        try execute(script: "BEGIN")
        do {
            let result = try body(self)
            try execute(script: "COMMIT")
            return result
        } catch {
            if handle != nil, PQstatus(handle) == CONNECTION_OK {
                try? execute(script: "ROLLBACK")
            }
            throw error
        }
    }

    /// Whether the connection is open and still connected. Anything arriving on an idle
    /// connection (Pinguin does not LISTEN) is the server going away: typically its
    /// "terminating connection" error just before EOF, which libpq may not have noticed yet.
    public func isHealthy() -> Bool {
        guard let conn = handle, PQstatus(conn) == CONNECTION_OK else { return false }
        var descriptor = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) == 0
    }

    /// Rolls back a transaction left open; false if the connection cannot be reused.
    func resetForReuse() -> Bool {
        guard isHealthy(), let conn = handle else { return false }
        switch PQtransactionStatus(conn) {
        case PQTRANS_IDLE:
            return true
        case PQTRANS_INTRANS, PQTRANS_INERROR:
            return (try? execute(script: "ROLLBACK")) != nil && PQtransactionStatus(conn) == PQTRANS_IDLE
        default:
            return false
        }
    }

    // MARK: libpq plumbing

    private func liveHandle() throws(PostgresError) -> OpaquePointer {
        guard let handle else {
            throw PostgresError(code: .connectionClosed, message: "the connection is closed")
        }
        return handle
    }

    /// Waits until a whole result can be read, sending a cancel request if the task is cancelled.
    /// The request is repeated every second: one that reaches the server before the statement
    /// starts running cancels nothing (seen under load, with `pg_sleep(60)` then running to the end).
    private func waitUntilReadable(_ conn: OpaquePointer) throws(PostgresError) {
        var lastCancel: ContinuousClock.Instant?
        while PQisBusy(conn) == 1 {
            if Task.isCancelled, lastCancel.map({ ContinuousClock.now - $0 >= .seconds(1) }) ?? true {
                lastCancel = .now
                sendCancel(conn)
            }
            var descriptor = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 100)
            if ready < 0, errno != EINTR {
                throw PostgresError(code: .connectionClosed, message: "poll failed: \(String(cString: strerror(errno)))")
            }
            if ready > 0, PQconsumeInput(conn) == 0 {
                throw connectionError(conn, while: "reading the answer")
            }
        }
    }

    private func sendCancel(_ conn: OpaquePointer) {
        guard let cancel = PQgetCancel(conn) else { return }
        defer { PQfreeCancel(cancel) }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &buffer, Int32(buffer.count))
    }

    /// Reads every result of the current statement; returns the last, or throws the first error.
    private func collectResult(_ conn: OpaquePointer) throws(PostgresError) -> PostgresRows {
        var rows = PostgresRows(columns: [], cells: [], affectedRows: 0)
        var firstError: PostgresError?
        while true {
            do {
                try waitUntilReadable(conn)
            } catch {
                if firstError == nil { firstError = error }
                break
            }
            guard let result = PQgetResult(conn) else { break }
            defer { PQclear(result) }
            let status = PQresultStatus(result)
            if let error = resultError(result, status: status) {
                if firstError == nil { firstError = error }
                continue
            }
            if status == PGRES_COPY_IN {
                PQputCopyEnd(conn, "unexpected COPY FROM STDIN")
                if firstError == nil {
                    firstError = PostgresError(code: .unexpectedResult, message: "use copy(_:batch:) for COPY FROM STDIN")
                }
                continue
            }
            if status == PGRES_COPY_OUT {
                var buffer: UnsafeMutablePointer<CChar>?
                while PQgetCopyData(conn, &buffer, 0) > 0 { PQfreemem(buffer) }
                continue
            }
            rows = readRows(result)
        }
        if let firstError {
            if firstError.sqlState == "57014", Task.isCancelled {
                throw PostgresError(code: .cancelled, message: "the statement was cancelled", sqlState: "57014")
            }
            throw firstError
        }
        return rows
    }

    private func readRows(_ result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [PostgresColumn] = []
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            columns.append(PostgresColumn(
                name: String(cString: PQfname(result, Int32(column))),
                type: PostgresType(oid: PQftype(result, Int32(column)))
            ))
        }
        var cells: [[UInt8]?] = []
        cells.reserveCapacity(rowCount * columnCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) == 1 {
                    cells.append(nil)
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    let pointer = UnsafeRawPointer(PQgetvalue(result, row, column)!)
                    cells.append([UInt8](UnsafeRawBufferPointer(start: pointer, count: length)))
                }
            }
        }
        let tag = PQcmdTuples(result).map { String(cString: $0) } ?? ""
        return PostgresRows(columns: columns, cells: cells, affectedRows: Int(tag) ?? rowCount)
    }

    private func resultError(_ result: OpaquePointer, status: ExecStatusType) -> PostgresError? {
        guard status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR else {
            return nil
        }
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let message = field(UInt8(ascii: "M"))
            ?? String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines()
        guard status != PGRES_NONFATAL_ERROR else { return nil }
        return PostgresError(
            code: field(UInt8(ascii: "C")) == nil ? .unexpectedResult : .server,
            message: message,
            sqlState: field(UInt8(ascii: "C")),
            detail: field(UInt8(ascii: "D")),
            hint: field(UInt8(ascii: "H")),
            constraint: field(UInt8(ascii: "n")),
            table: field(UInt8(ascii: "t")),
            column: field(UInt8(ascii: "c"))
        )
    }

    private func connectionError(_ conn: OpaquePointer, while action: String) -> PostgresError {
        let reason = errorMessage(conn)
        if PQstatus(conn) != CONNECTION_OK {
            return PostgresError(code: .connectionClosed, message: "connection lost while \(action): \(reason)")
        }
        return PostgresError(code: .unexpectedResult, message: "\(action) failed: \(reason)")
    }

    private func errorMessage(_ conn: OpaquePointer) -> String {
        PQerrorMessage(conn).map { String(cString: $0).trimmingTrailingNewlines() } ?? "unknown error"
    }
}

/// Turns libpq notices into log records (debug for NOTICE and below, warning for WARNING).
final class NoticeSink: Sendable {
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func receive(_ message: String) {
        let text = message.trimmingTrailingNewlines()
        if text.hasPrefix("WARNING") {
            logger.warning("postgres warning", metadata: ["db.notice": "\(text)"])
        } else {
            logger.debug("postgres notice", metadata: ["db.notice": "\(text)"])
        }
    }
}

extension PostgresConnection: PoolableConnection {
    public func prepareForReuse() -> Bool {
        resetForReuse()
    }
}

/// Calls `body` with the parameter arrays `PQsendQueryParams` wants, pointing into one buffer.
private func withParameters<R>(
    _ values: [PostgresValue],
    _ body: (
        UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?
    ) -> R
) -> R {
    var storage: [UInt8] = []
    var offsets: [Int] = []
    for value in values {
        offsets.append(storage.count)
        if let bytes = value.bytes { storage.append(contentsOf: bytes) }
    }
    storage.append(0)  // never empty, so every non-NULL value has a valid address
    let types = values.map { Oid($0.type.oid) }
    let lengths = values.map { Int32($0.bytes?.count ?? 0) }
    let formats = [Int32](repeating: 1, count: values.count)
    return storage.withUnsafeBufferPointer { buffer in
        let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
        let pointers: [UnsafePointer<CChar>?] = values.indices.map { index in
            values[index].bytes == nil ? nil : base + offsets[index]
        }
        return body(types, pointers, lengths, formats)
    }
}

/// Calls `body` with a NULL-terminated array of C strings.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicated = strings.map { strdup($0) }
    defer { duplicated.forEach { free($0) } }
    let pointers = duplicated.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
