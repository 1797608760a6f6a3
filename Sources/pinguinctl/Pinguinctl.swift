import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// The admin CLI. It speaks the control plane's JSON-RPC; until that role exists it only
/// reports its version (see README, "Status").
@main
struct Pinguinctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pinguinctl",
        abstract: "Administer Pinguin through its JSON-RPC control plane.",
        version: "0.1.0-dev"
    )

    mutating func run() throws {
        signal(SIGPIPE, SIG_IGN)
        print(Self.helpMessage())
    }
}
