import Foundation
import PinguinWire

/// The optional config file: `socket`, `tcp`, `token_file` (preferred) or `token`, and for TLS
/// `tls`, `tls_ca_file`, `tls_server_name`.
public struct ConfigFile: Sendable, Equatable {
    public var path: String
    public var socket: String?
    public var tcp: String?
    public var token: String?
    public var tokenFile: String?
    public var tls: Bool?
    public var tlsCAFile: String?
    public var tlsServerName: String?

    public init(path: String, socket: String? = nil, tcp: String? = nil, token: String? = nil, tokenFile: String? = nil) {
        self.path = path
        self.socket = socket
        self.tcp = tcp
        self.token = token
        self.tokenFile = tokenFile
    }

    /// Parses the file's text; unknown keys are errors so that typos do not go unnoticed.
    public static func parse(_ text: String, path: String) throws(CLIFailure) -> ConfigFile {
        let value: JSONValue
        do {
            value = try YAMLBridge.parse(text)
        } catch {
            throw CLIFailure.usage("\(path): \(error.message)")
        }
        var file = ConfigFile(path: path)
        guard value != .null else { return file }
        guard let object = value.objectValue else { throw CLIFailure.usage("\(path): expected a mapping of socket, tcp, token_file") }
        for (index, key) in object.keys.enumerated() {
            if key == "tls" {
                guard let flag = object.values[index].boolValue else { throw CLIFailure.usage("\(path): tls: must be true or false") }
                file.tls = flag
                continue
            }
            guard let text = object.values[index].stringValue else {
                throw CLIFailure.usage("\(path): \(key): must be a string")
            }
            switch key {
            case "socket": file.socket = text
            case "tcp": file.tcp = text
            case "token": file.token = text
            case "token_file": file.tokenFile = text
            case "tls_ca_file": file.tlsCAFile = text
            case "tls_server_name": file.tlsServerName = text
            default: throw CLIFailure.usage("\(path): \(key): unknown key (expected socket, tcp, token_file, token, tls, tls_ca_file, tls_server_name)")
            }
        }
        return file
    }

    /// Where the file is looked for: `$PINGUIN_CONFIG` (must exist), else
    /// `$XDG_CONFIG_HOME/pinguin/pinguinctl.yaml`, else `~/.config/pinguin/pinguinctl.yaml`.
    public static func location(environment: [String: String]) -> (path: String, required: Bool)? {
        if let explicit = environment["PINGUIN_CONFIG"], !explicit.isEmpty { return (explicit, true) }
        if let base = environment["XDG_CONFIG_HOME"], !base.isEmpty { return (base + "/pinguin/pinguinctl.yaml", false) }
        if let home = environment["HOME"], !home.isEmpty { return (home + "/.config/pinguin/pinguinctl.yaml", false) }
        return nil
    }

    /// Reads the file at `path`; nil when it is optional and absent. A file holding an inline
    /// token must not be readable by group or others.
    public static func load(path: String, required: Bool) throws(CLIFailure) -> ConfigFile? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if required { throw CLIFailure.usage("\(path): cannot read the config file: \(String(cString: strerror(errno)))") }
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIFailure.usage("\(path): cannot read the config file")
        }
        let file = try parse(String(decoding: data, as: UTF8.self), path: path)
        if file.token != nil, info.st_mode & 0o077 != 0 {
            throw CLIFailure.usage("\(path) holds a token but others may read it: chmod 600 it, or better, use token_file")
        }
        return file
    }

    /// The token file's content without surrounding whitespace; relative paths are relative to
    /// this config file, `~/` to the home directory.
    func readTokenFile(environment: [String: String]) throws(CLIFailure) -> String? {
        guard var tokenPath = tokenFile else { return nil }
        if tokenPath.hasPrefix("~/"), let home = environment["HOME"] {
            tokenPath = home + tokenPath.dropFirst(1)
        } else if !tokenPath.hasPrefix("/") {
            tokenPath = (path as NSString).deletingLastPathComponent + "/" + tokenPath
        }
        guard let data = FileManager.default.contents(atPath: tokenPath) else {
            throw CLIFailure.usage("\(path): token_file \(tokenPath) cannot be read")
        }
        return String(decoding: data, as: UTF8.self).trimmingWhitespace()
    }
}

/// Where and how to connect, resolved from flags, then the environment, then the config file,
/// then the default socket.
public struct ConnectionSettings: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        case unix(path: String)
        case tcp(host: String, port: Int)
    }

    /// TLS for a TCP connection: the CA file to verify the server with (nil: the system's), and
    /// the name its certificate must carry (nil: the host connected to).
    public struct TLS: Sendable, Equatable {
        public var caFile: String?
        public var serverName: String?

        public init(caFile: String? = nil, serverName: String? = nil) {
            self.caFile = caFile
            self.serverName = serverName
        }
    }

    public var endpoint: Endpoint
    /// The token for `auth`; needed for TCP, optional on the socket.
    public var token: String?
    /// TLS on TCP; nil for plain TCP.
    public var tls: TLS?

    public init(endpoint: Endpoint, token: String? = nil, tls: TLS? = nil) {
        self.endpoint = endpoint
        self.token = token
        self.tls = tls
    }

    /// What the command line says.
    public struct Flags: Sendable {
        public var socket: String?
        public var tcp: String?
        public var token: String?
        public var tokenFile: String?
        public var tls = false
        public var tlsCAFile: String?
        public var tlsServerName: String?

        public init(
            socket: String? = nil, tcp: String? = nil, token: String? = nil, tokenFile: String? = nil,
            tls: Bool = false, tlsCAFile: String? = nil, tlsServerName: String? = nil
        ) {
            self.socket = socket
            self.tcp = tcp
            self.token = token
            self.tokenFile = tokenFile
            self.tls = tls
            self.tlsCAFile = tlsCAFile
            self.tlsServerName = tlsServerName
        }
    }

    /// Resolves the settings. `fileExists` decides between the per-user and the system socket.
    public static func resolve(
        flags: Flags,
        environment: [String: String],
        file: ConfigFile?,
        isRoot: Bool,
        fileExists: (String) -> Bool = ConnectionSettings.fileExists,
        readFile: (String) -> String? = ConnectionSettings.readFile
    ) throws(CLIFailure) -> ConnectionSettings {
        func nonEmpty(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }
        if flags.socket != nil && flags.tcp != nil { throw CLIFailure.usage("give --socket or --tcp, not both") }
        let endpoint: Endpoint
        if let address = nonEmpty(flags.tcp) {
            endpoint = try tcp(address, source: "--tcp")
        } else if let path = nonEmpty(flags.socket) {
            endpoint = .unix(path: path)
        } else if let address = nonEmpty(environment["PINGUIN_TCP"]) {
            endpoint = try tcp(address, source: "PINGUIN_TCP")
        } else if let path = nonEmpty(environment["PINGUIN_SOCKET"]) {
            endpoint = .unix(path: path)
        } else if let address = nonEmpty(file?.tcp) {
            endpoint = try tcp(address, source: "\(file!.path): tcp")
        } else if let path = nonEmpty(file?.socket) {
            endpoint = .unix(path: path)
        } else {
            endpoint = .unix(path: defaultSocket(environment: environment, isRoot: isRoot, fileExists: fileExists))
        }
        var token = nonEmpty(flags.token)
        if token == nil, let path = nonEmpty(flags.tokenFile) {
            guard let text = readFile(path) else { throw CLIFailure.usage("--token-file \(path) cannot be read") }
            token = text.trimmingWhitespace()
        }
        if token == nil { token = nonEmpty(environment["PINGUIN_TOKEN"]) }
        if token == nil, let file { token = try nonEmpty(file.readTokenFile(environment: environment)) ?? nonEmpty(file.token) }
        if case .tcp = endpoint, token == nil {
            throw CLIFailure.usage("TCP needs a token: set PINGUIN_TOKEN, pass --token-file, or put token_file in the config file")
        }
        // TLS: asked for by a flag, PINGUIN_TLS=1, or the file; a CA file or server name implies it.
        let caFile = nonEmpty(flags.tlsCAFile) ?? nonEmpty(environment["PINGUIN_TLS_CA_FILE"]) ?? nonEmpty(file?.tlsCAFile)
        let serverName = nonEmpty(flags.tlsServerName) ?? nonEmpty(environment["PINGUIN_TLS_SERVER_NAME"]) ?? nonEmpty(file?.tlsServerName)
        let wanted = flags.tls || ["1", "true", "yes"].contains(environment["PINGUIN_TLS"]?.lowercased() ?? "") || (file?.tls ?? false)
            || caFile != nil || serverName != nil
        var tls: TLS?
        if wanted {
            guard case .tcp = endpoint else { throw CLIFailure.usage("TLS is for TCP connections (--tcp); the Unix socket is local and plain") }
            tls = TLS(caFile: caFile, serverName: serverName)
        }
        return ConnectionSettings(endpoint: endpoint, token: token, tls: tls)
    }

    /// pinguind's own default: the system socket for root; for others the per-user one under
    /// `$XDG_RUNTIME_DIR` when it exists, else the system one (a pinguind run as a service).
    public static func defaultSocket(environment: [String: String], isRoot: Bool, fileExists: (String) -> Bool) -> String {
        let system = "/run/pinguin/pinguind.sock"
        if !isRoot, let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            let user = runtime + "/pinguin/pinguind.sock"
            if fileExists(user) { return user }
        }
        return system
    }

    public static func fileExists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    public static func readFile(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    static func tcp(_ address: String, source: String) throws(CLIFailure) -> Endpoint {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
            throw CLIFailure.usage("\(source) must be HOST:PORT, not \(address)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return .tcp(host: host.isEmpty ? "127.0.0.1" : host, port: port)
    }
}
