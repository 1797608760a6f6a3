/// A DNS message (RFC 1035 §4.1), as read from the bytes of a response. Sans-IO: it never
/// touches a socket, so the reader is tested on bytes alone.
public struct DNSMessage: Hashable, Sendable {
    public struct Question: Hashable, Sendable {
        public var name: String
        public var type: DNSRecordType
        public var questionClass: UInt16

        public init(name: String, type: DNSRecordType, questionClass: UInt16 = 1) {
            self.name = name
            self.type = type
            self.questionClass = questionClass
        }
    }

    public var id: UInt16
    public var isResponse: Bool
    public var opcode: UInt8
    public var isAuthoritative: Bool
    public var isTruncated: Bool
    public var recursionDesired: Bool
    public var recursionAvailable: Bool
    /// The full response code: the header's four bits, extended by an OPT record's upper eight.
    public var responseCode: DNSResponseCode
    public var questions: [Question]
    public var answers: [DNSRecord]
    public var authorities: [DNSRecord]
    public var additionals: [DNSRecord]

    /// Reads a whole message; the error says where and why it does not parse.
    public init(parsing bytes: [UInt8]) throws(DNSMessageError) {
        var reader = DNSMessageReader(bytes)
        id = try reader.uint16("header")
        let flags = try reader.uint16("header")
        isResponse = flags & 0x8000 != 0
        opcode = UInt8((flags >> 11) & 0x0F)
        isAuthoritative = flags & 0x0400 != 0
        isTruncated = flags & 0x0200 != 0
        recursionDesired = flags & 0x0100 != 0
        recursionAvailable = flags & 0x0080 != 0
        var code = flags & 0x000F
        let questionCount = try reader.uint16("header")
        let answerCount = try reader.uint16("header")
        let authorityCount = try reader.uint16("header")
        let additionalCount = try reader.uint16("header")
        questions = []
        for _ in 0..<questionCount {
            let name = try reader.name("question")
            let type = try reader.uint16("question")
            let questionClass = try reader.uint16("question")
            questions.append(Question(name: name, type: DNSRecordType(rawValue: type), questionClass: questionClass))
        }
        answers = try reader.records(Int(answerCount), section: "answer")
        authorities = try reader.records(Int(authorityCount), section: "authority")
        additionals = try reader.records(Int(additionalCount), section: "additional")
        if let opt = additionals.first(where: { $0.type == .opt }) {
            code |= UInt16(opt.ttl >> 24) << 4
        }
        responseCode = DNSResponseCode(rawValue: code)
    }
}

/// Why bytes are not a DNS message.
public struct DNSMessageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The byte offset where reading stopped.
    public var offset: Int
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "malformed DNS message at byte \(offset): \(reason)" }
}
