import Foundation
import PinguinctlKit
import Testing

@Suite("Connection settings")
struct ConnectionSettingsTests {
    private func resolve(_ flags: ConnectionSettings.Flags = .init(), _ environment: [String: String] = [:], _ file: ConfigFile? = nil,
                         isRoot: Bool = false, existing: Set<String> = []) throws -> ConnectionSettings {
        try ConnectionSettings.resolve(flags: flags, environment: environment, file: file, isRoot: isRoot,
                                       fileExists: { existing.contains($0) }, readFile: { $0 == "/secret" ? "pinguin_flag\n" : nil })
    }

    @Test("flags beat the environment, which beats the file, which beats the default")
    func precedence() throws {
        let file = ConfigFile(path: "/c.yaml", socket: "/file.sock")
        let environment = ["PINGUIN_SOCKET": "/env.sock"]
        #expect(try resolve(.init(socket: "/flag.sock"), environment, file).endpoint == .unix(path: "/flag.sock"))
        #expect(try resolve(.init(), environment, file).endpoint == .unix(path: "/env.sock"))
        #expect(try resolve(.init(), [:], file).endpoint == .unix(path: "/file.sock"))
        #expect(try resolve(.init(), [:], nil).endpoint == .unix(path: "/run/pinguin/pinguind.sock"))
        // A --socket flag wins over PINGUIN_TCP in the environment.
        #expect(try resolve(.init(socket: "/flag.sock"), ["PINGUIN_TCP": "h:1"]).endpoint == .unix(path: "/flag.sock"))
    }

    @Test("TCP needs a token, from a flag, a token file, the environment or the config file")
    func tokens() throws {
        #expect(throws: CLIFailure.self) { try resolve(.init(tcp: "db:7000")) }
        #expect(try resolve(.init(tcp: "db:7000"), ["PINGUIN_TOKEN": "pinguin_env"]).token == "pinguin_env")
        #expect(try resolve(.init(tcp: "db:7000", tokenFile: "/secret"), ["PINGUIN_TOKEN": "pinguin_env"]).token == "pinguin_flag")
        let settings = try resolve(.init(), [:], ConfigFile(path: "/c.yaml", tcp: "[::1]:7000", token: "pinguin_file"))
        #expect(settings == ConnectionSettings(endpoint: .tcp(host: "::1", port: 7000), token: "pinguin_file"))
        #expect(throws: CLIFailure.self) { try resolve(.init(tcp: "no-port")) }
        #expect(throws: CLIFailure.self) { try resolve(.init(socket: "/a", tcp: "h:1")) }
    }

    @Test("TLS from a flag, PINGUIN_TLS or the file; a CA file or server name implies it; never on the Unix socket")
    func tls() throws {
        let token = ["PINGUIN_TOKEN": "pinguin_env"]
        #expect(try resolve(.init(tcp: "h:1"), token).tls == nil)
        #expect(try resolve(.init(tcp: "h:1", tls: true), token).tls == ConnectionSettings.TLS())
        #expect(try resolve(.init(tcp: "h:1"), token.merging(["PINGUIN_TLS": "1"]) { $1 }).tls == ConnectionSettings.TLS())
        #expect(try resolve(.init(tcp: "h:1", tlsCAFile: "/ca.pem"), token).tls == ConnectionSettings.TLS(caFile: "/ca.pem"))
        var file = ConfigFile(path: "/c.yaml", tcp: "h:1", token: "pinguin_file")
        file.tls = true
        file.tlsServerName = "pinguin.internal"
        #expect(try resolve(.init(), [:], file).tls == ConnectionSettings.TLS(serverName: "pinguin.internal"))
        #expect(throws: CLIFailure.self) { try resolve(.init(socket: "/a.sock", tls: true)) }
        let parsed = try ConfigFile.parse("tcp: h:1\ntls: true\ntls_ca_file: ca.pem\n", path: "/c.yaml")
        #expect(parsed.tls == true && parsed.tlsCAFile == "ca.pem")
        #expect(throws: CLIFailure.self) { try ConfigFile.parse("tls: maybe\n", path: "/c.yaml") }
    }

    @Test("non-root users get the per-user socket when it exists")
    func defaultSocket() throws {
        let environment = ["XDG_RUNTIME_DIR": "/run/user/1000"]
        #expect(try resolve(.init(), environment, existing: ["/run/user/1000/pinguin/pinguind.sock"]).endpoint
                == .unix(path: "/run/user/1000/pinguin/pinguind.sock"))
        #expect(try resolve(.init(), environment).endpoint == .unix(path: "/run/pinguin/pinguind.sock"))
        #expect(try resolve(.init(), environment, isRoot: true, existing: ["/run/user/1000/pinguin/pinguind.sock"]).endpoint
                == .unix(path: "/run/pinguin/pinguind.sock"))
    }

    @Test("the config file: known keys only; an inline token needs a private file; token_file is read")
    func configFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pinguinctl-tests-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(throws: CLIFailure.self) { try ConfigFile.parse("sockt: /x\n", path: "c.yaml") }
        let open = folder + "/open.yaml"
        FileManager.default.createFile(atPath: open, contents: Data("tcp: h:1\ntoken: pinguin_x\n".utf8), attributes: [.posixPermissions: 0o644])
        do {
            _ = try ConfigFile.load(path: open, required: true)
            Issue.record("a readable file with a token must be refused")
        } catch {
            #expect(error.message.contains("chmod 600"))
            #expect(!error.message.contains("pinguin_x"))
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: open)
        #expect(try ConfigFile.load(path: open, required: true)?.token == "pinguin_x")
        FileManager.default.createFile(atPath: folder + "/token", contents: Data("pinguin_y\n".utf8))
        let withFile = folder + "/withfile.yaml"
        FileManager.default.createFile(atPath: withFile, contents: Data("tcp: h:1\ntoken_file: token\n".utf8), attributes: [.posixPermissions: 0o644])
        let file = try #require(try ConfigFile.load(path: withFile, required: true))
        #expect(try resolve(.init(), [:], file).token == "pinguin_y")
        #expect(try ConfigFile.load(path: folder + "/missing.yaml", required: false) == nil)
        #expect(throws: CLIFailure.self) { try ConfigFile.load(path: folder + "/missing.yaml", required: true) }
    }
}
