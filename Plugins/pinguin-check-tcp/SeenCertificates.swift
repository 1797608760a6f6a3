import NIOSSL
import Synchronization

/// The certificates the verifier looked at, and which it refused (filled on the event loop,
/// read by the check after the handshake ended).
final class SeenCertificates: Sendable {
    private let state = Mutex<[(certificate: NIOSSLCertificate, failed: Bool)]>([])
    func add(_ certificate: NIOSSLCertificate, failed: Bool) { state.withLock { $0.append((certificate, failed)) } }
    func all() -> [NIOSSLCertificate] { state.withLock { $0.map(\.certificate) } }
    func failed() -> [NIOSSLCertificate] { state.withLock { $0.filter(\.failed).map(\.certificate) } }
}
