import NIOSSL
import PinguinCheckerKit
import Synchronization

/// One `NIOSSLContext` per distinct TLS setting, made on first use and kept for the process, so
/// a CA file is read once, not once per check.
enum TLSContexts {
    private struct Key: Hashable {
        var verify: Bool
        var caFile: String?
        var minimumVersion: String
    }

    private static let contexts = Mutex<[Key: NIOSSLContext]>([:])

    static func context(for tls: TCPConfig.TLS) throws(CheckError) -> NIOSSLContext {
        let key = Key(verify: tls.verify, caFile: tls.caFile, minimumVersion: tls.minimumVersion.rawValue)
        if let context = contexts.withLock({ $0[key] }) { return context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = tls.verify ? .fullVerification : .none
        if let caFile = tls.caFile { configuration.trustRoots = .file(caFile) }
        switch tls.minimumVersion {
        case .v1_0: configuration.minimumTLSVersion = .tlsv1
        case .v1_1: configuration.minimumTLSVersion = .tlsv11
        case .v1_2: configuration.minimumTLSVersion = .tlsv12
        case .v1_3: configuration.minimumTLSVersion = .tlsv13
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw CheckError.invalidConfig("tls: cannot load \(tls.caFile.map { "ca_file \($0)" } ?? "the system's CA certificates"): \(error)")
        }
        return contexts.withLock { contexts in
            if let existing = contexts[key] { return existing }
            contexts[key] = context
            return context
        }
    }
}
