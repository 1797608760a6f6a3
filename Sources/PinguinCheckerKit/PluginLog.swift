import Glibc

/// The plugin's log: one line per call on stderr, with the level prefix the supervisor reads
/// (`E!`, `W!`, `I!`, `D!`). stdout carries protocol lines only, so never `print` in a plugin.
public enum PluginLog {
    public static func error(_ message: String) { write("E! ", message) }
    public static func warning(_ message: String) { write("W! ", message) }
    public static func info(_ message: String) { write("I! ", message) }
    public static func debug(_ message: String) { write("D! ", message) }

    /// One write(2) per line, so lines from concurrent checks never interleave (the supervisor cuts at 8 KiB).
    private static func write(_ prefix: String, _ message: String) {
        var line = Array(prefix.utf8)
        for byte in message.utf8.prefix(8000) { line.append(byte == 0x0A || byte == 0x0D ? 0x20 : byte) }
        line.append(0x0A)
        line.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
