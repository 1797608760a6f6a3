@testable import PinguinRedis
import Testing

@Suite("RedisConfiguration")
struct RedisConfigurationTests {
    @Test("parses TCP URLs with password, user, database and timeouts")
    func parsesTCP() throws {
        let configuration = try RedisConfiguration(url: "redis://ops:p%40ss@127.0.0.1:6380/3?command_timeout=2.5&connect_timeout=1")
        #expect(configuration.endpoint == .tcp(host: "127.0.0.1", port: 6380))
        #expect(configuration.username == "ops")
        #expect(configuration.password == "p@ss")
        #expect(configuration.database == 3)
        #expect(configuration.commandTimeout == .milliseconds(2500))
        #expect(configuration.connectTimeout == .seconds(1))
        #expect(configuration.description == "redis://ops:***@127.0.0.1:6380/3")
    }

    @Test("defaults: port 6379, database 0, no password")
    func defaults() throws {
        let configuration = try RedisConfiguration(url: "redis://localhost")
        #expect(configuration.endpoint == .tcp(host: "localhost", port: 6379))
        #expect(configuration.database == 0)
        #expect(configuration.password == nil)
    }

    @Test("parses Unix socket URLs")
    func parsesUnix() throws {
        let configuration = try RedisConfiguration(url: "unix:///run/redis/redis.sock?db=2&password=x")
        #expect(configuration.endpoint == .unix(path: "/run/redis/redis.sock"))
        #expect(configuration.database == 2)
        #expect(configuration.password == "x")
        #expect(!configuration.description.contains("x&"))
    }

    @Test("rejects bad URLs, naming the problem and hiding the password", arguments: [
        ("http://:hunter2@host", "scheme"),
        ("redis://:hunter2@host/notanumber", "database"),
        ("rediss://:hunter2@host", "TLS"),
        ("redis://:hunter2@host?command_timeout=-1", "command_timeout"),
        ("redis://:hunter2@", "host"),
    ])
    func rejects(_ url: String, _ mention: String) {
        #expect {
            try RedisConfiguration(url: url)
        } throws: { error in
            let description = "\(error)"
            return description.contains(mention) && !description.contains("hunter2")
        }
    }

    @Test("commands never show their arguments")
    func commandDescription() {
        #expect(RedisCommand("AUTH", "user", "hunter2").description == "AUTH")
    }

    @Test("stream entries parse, including deleted ones")
    func streamEntries() throws {
        let entry = try RedisClient.streamEntry(.array([
            .bulkString(Array("1-1".utf8)), .array([.bulkString(Array("job".utf8)), .bulkString([0, 1, 2])]),
        ]))
        #expect(entry.id == "1-1")
        #expect(entry.fields["job"] == [0, 1, 2])
        let deleted = try RedisClient.streamEntry(.array([.bulkString(Array("2-0".utf8)), .null]))
        #expect(deleted.fields.isEmpty)
        #expect(throws: RedisError.self) { try RedisClient.streamEntry(.integer(1)) }
    }
}
