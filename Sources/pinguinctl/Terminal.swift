import Foundation
import PinguinctlKit

#if canImport(Glibc)
import Glibc
#endif

/// stdout and stderr, with colour only on a terminal (and never with NO_COLOR set).
enum Terminal {
    static let colour: Bool = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data(("pinguinctl: " + message + "\n").utf8))
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
    }

    /// Status words in colour: green up, red down, yellow degraded, grey paused.
    static func statusStyle(column: Int) -> (Int, String) -> String {
        { index, cell in
            guard colour, index == column else { return cell }
            let word = cell.trimmingCharacters(in: .whitespaces)
            let code: String
            switch word {
            case "up": code = "32"
            case "down": code = "31"
            case "degraded", "maintenance": code = "33"
            case "paused", "disabled", "pending", "unknown", "skipped": code = "90"
            default: return cell
            }
            return "\u{1B}[\(code)m\(word)\u{1B}[0m" + String(cell.dropFirst(word.count))
        }
    }
}
