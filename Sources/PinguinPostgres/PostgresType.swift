/// A PostgreSQL type, identified by its OID (the built-in OIDs are fixed across versions).
public struct PostgresType: Hashable, Sendable, CustomStringConvertible {
    public let oid: UInt32

    public init(oid: UInt32) {
        self.oid = oid
    }

    public static let bool = PostgresType(oid: 16)
    public static let bytea = PostgresType(oid: 17)
    public static let char = PostgresType(oid: 18)
    public static let name = PostgresType(oid: 19)
    public static let int8 = PostgresType(oid: 20)
    public static let int2 = PostgresType(oid: 21)
    public static let int4 = PostgresType(oid: 23)
    public static let text = PostgresType(oid: 25)
    public static let oidType = PostgresType(oid: 26)
    public static let json = PostgresType(oid: 114)
    public static let float4 = PostgresType(oid: 700)
    public static let float8 = PostgresType(oid: 701)
    public static let numeric = PostgresType(oid: 1700)
    public static let bpchar = PostgresType(oid: 1042)
    public static let varchar = PostgresType(oid: 1043)
    public static let timestamp = PostgresType(oid: 1114)
    public static let timestamptz = PostgresType(oid: 1184)
    public static let uuid = PostgresType(oid: 2950)
    public static let jsonb = PostgresType(oid: 3802)
    /// "Unknown": the server infers the parameter's type from the statement.
    public static let unspecified = PostgresType(oid: 0)

    public static let boolArray = PostgresType(oid: 1000)
    public static let byteaArray = PostgresType(oid: 1001)
    public static let int2Array = PostgresType(oid: 1005)
    public static let int4Array = PostgresType(oid: 1007)
    public static let textArray = PostgresType(oid: 1009)
    public static let varcharArray = PostgresType(oid: 1015)
    public static let int8Array = PostgresType(oid: 1016)
    public static let float4Array = PostgresType(oid: 1021)
    public static let float8Array = PostgresType(oid: 1022)
    public static let timestamptzArray = PostgresType(oid: 1185)
    public static let uuidArray = PostgresType(oid: 2951)
    public static let jsonbArray = PostgresType(oid: 3807)

    private static let names: [UInt32: String] = [
        16: "bool", 17: "bytea", 18: "char", 19: "name", 20: "int8", 21: "int2", 23: "int4", 25: "text",
        26: "oid", 114: "json", 700: "float4", 701: "float8", 1042: "bpchar", 1700: "numeric", 1043: "varchar",
        1114: "timestamp", 1184: "timestamptz", 2950: "uuid", 3802: "jsonb", 0: "unknown",
        1000: "bool[]", 1001: "bytea[]", 1005: "int2[]", 1007: "int4[]", 1009: "text[]", 1015: "varchar[]",
        1016: "int8[]", 1021: "float4[]", 1022: "float8[]", 1185: "timestamptz[]", 2951: "uuid[]",
        3807: "jsonb[]",
    ]

    public var description: String {
        Self.names[oid] ?? "oid \(oid)"
    }
}
