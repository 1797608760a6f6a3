import PinguinPostgres
import PinguinWire

/// Turns database errors from a store call into JSON-RPC errors that say what is wrong and name
/// the parameter: a taken name is a conflict (1009), a broken constraint is invalid params naming
/// the field it guards, anything else an internal error that leaks no SQL.
enum StoreErrors {
    static func translate<T>(
        subject: String, constraintFields: [String: String], foreignKeyField: String? = nil, _ body: () async throws -> T
    ) async throws(JSONRPCError) -> T {
        do {
            return try await body()
        } catch let error as PostgresError where error.sqlState == "23505" {
            throw JSONRPCError(code: MonitorMethods.conflictCode, message: "a \(subject) with that name already exists in the namespace",
                               kind: "conflict", details: JSONObject(["field": .string("name")]))
        } catch let error as PostgresError where error.sqlState == "23503" && foreignKeyField != nil {
            throw .invalidParams("\(foreignKeyField!) names a monitor that does not exist", field: foreignKeyField!)
        } catch let error as PostgresError where error.sqlState == "23514" || error.sqlState == "22P02" {
            let field = error.constraint.flatMap { constraintFields[$0] } ?? "params"
            throw .invalidParams("\(field) is not accepted (\(error.constraint ?? "invalid value"))", field: field)
        } catch let error as JSONRPCError {
            throw error
        } catch {
            throw .internalError("the database call failed")
        }
    }
}
