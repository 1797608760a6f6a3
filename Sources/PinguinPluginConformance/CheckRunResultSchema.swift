import PinguinWire

/// proto-docs/schemas/plugin/check-run-result.json, compiled in (the binary runs far from the
/// repository; a test holds the two equal). Every result is checked against it, so a report
/// names each field that is wrong, not only the first the supervisor trips over.
enum CheckRunResultSchema {
    static let text = #"""
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://pinguin.invalid/schemas/plugin/check-run-result.json",
  "title": "check.run: result (plugin to supervisor)",
  "type": "object",
  "required": ["status", "message"],
  "properties": {
    "status": {"enum": ["up", "down", "degraded", "unknown"], "description": "A down target is a normal result; unknown means the plugin could not tell."},
    "message": {"type": "string", "maxLength": 1024, "description": "One line saying what happened (newlines are replaced)."},
    "latency_ms": {"type": "number", "minimum": 0},
    "phases": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}, "description": "Per-phase timings in ms: dns, connect, tls, first_byte, transfer…"},
    "details": {"type": "object", "description": "Kind-specific facts (certificate, resolved address, DNS answers, packet statistics). At most 64 KiB as JSON."},
    "error_kind": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$", "description": "Why a check failed, as a stable word: timeout, refused, dns_nxdomain, tls_expired, status_mismatch…"},
    "metrics": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["label", "value"],
        "properties": {
          "label": {"type": "string", "minLength": 1},
          "value": {"type": ["number", "null"], "description": "null for Nagios' U (could not be determined)."},
          "uom": {"type": "string"},
          "warn": {"type": "string"},
          "crit": {"type": "string"},
          "min": {"type": "number"},
          "max": {"type": "number"}
        },
        "additionalProperties": false
      }
    }
  }
}
"""#

    static let schema: JSONSchema = {
        // The text is a constant that a test validates; failing here is a build defect.
        try! JSONSchema(try! JSONParser.parse(Array(text.utf8)))
    }()
}
