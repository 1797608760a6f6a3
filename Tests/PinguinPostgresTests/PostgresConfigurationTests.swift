import PinguinPostgres
import Testing

@Suite("PostgresConfiguration")
struct PostgresConfigurationTests {
    @Test("parses a URL and shows it without the password")
    func parsesURL() throws {
        let configuration = try PostgresConfiguration("postgresql://pinguin:s3cret@127.0.0.1:5433/monitor?sslmode=disable")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 5433)
        #expect(configuration.user == "pinguin")
        #expect(configuration.database == "monitor")
        #expect(configuration.option("sslmode") == "disable")
        #expect(configuration.description == "postgresql://pinguin@127.0.0.1:5433/monitor")
        #expect(!configuration.description.contains("s3cret"))
    }

    @Test("parses key/value pairs with quoting")
    func parsesKeyValue() throws {
        let configuration = try PostgresConfiguration("host=db.internal port=6000 dbname='my db' user=ops password='a b'")
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 6000)
        #expect(configuration.database == "my db")
        #expect(configuration.option("password") == "a b")
        #expect(!configuration.description.contains("a b"))
    }

    @Test("rejects a malformed string with libpq's reason and no password", arguments: [
        "postgresql://user:hunter2@host:notaport/db",
        "host=x password=hunter2 nonsense",
        "postgresql://user:hunter2@host/db?bogus_option=1",
    ])
    func rejectsMalformed(_ string: String) {
        #expect {
            try PostgresConfiguration(string)
        } throws: { error in
            let error = error as! PostgresError
            return error.code == .invalidConfiguration && !error.description.contains("hunter2")
                && error.description.contains("invalid PostgreSQL connection string")
        }
    }
}
