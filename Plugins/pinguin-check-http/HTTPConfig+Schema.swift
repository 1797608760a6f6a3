import PinguinWire

extension HTTPConfig {
    /// The `http` kind's config schema; proto-docs/checkers/http.md documents the same keys, and a
    /// test holds the two together.
    static let schema: JSONValue = try! JSONParser.parse(#"""
    {"type":"object","additionalProperties":false,"properties":{
    "method":{"enum":["GET","HEAD","POST","PUT","PATCH","DELETE","OPTIONS"],"default":"GET","description":"The request method."},
    "headers":{"type":"object","maxProperties":64,"propertyNames":{"pattern":"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$"},"additionalProperties":{"type":"string","maxLength":8192,"pattern":"^[^\\r\\n]*$"},"description":"Request headers, name to value. A Host header here sets the Host sent (not the address connected to)."},
    "body":{"type":"string","maxLength":1048576,"description":"The request body, sent as given (set Content-Type in headers)."},
    "accepted_status":{"type":"array","minItems":1,"maxItems":64,"items":{"anyOf":[{"type":"integer","minimum":100,"maximum":599},{"type":"string","pattern":"^[1-5][0-9][0-9](-[1-5][0-9][0-9])?$"}]},"default":["200-399"],"description":"Status codes that count as up, after redirects are followed: codes (200) and inclusive ranges (\"200-299\"). Default 200-399."},
    "expect_body":{"type":"object","additionalProperties":false,"properties":{
      "contains":{"type":"string","minLength":1,"maxLength":4096,"description":"A keyword the body must contain (case-sensitive)."},
      "regex":{"type":"string","minLength":1,"maxLength":4096,"description":"A regular expression (Swift Regex syntax) that must match somewhere in the body."},
      "invert":{"type":"boolean","default":false,"description":"The body must NOT contain the keyword / match the regex."}},
      "description":"What the response body must (or must not) hold; the body is read as UTF-8."},
    "expect_json":{"type":"array","maxItems":64,"items":{"type":"object","additionalProperties":false,"required":["path"],"properties":{
      "path":{"type":"string","minLength":1,"maxLength":1024,"description":"A path into the JSON body: $.a.b[0][\"c d\"] ($ alone is the whole body)."},
      "op":{"enum":["exists","eq","ne","lt","le","gt","ge","contains","matches"],"default":"exists","description":"exists: the path is there; eq/ne: equal JSON values (a different type is a type mismatch); lt/le/gt/ge: numbers; contains: a substring of a string or an element of an array; matches: a regex on a string."},
      "value":{"description":"The value to compare with (any JSON value; a string for matches)."},
      "type":{"enum":["string","number","integer","boolean","null","array","object"],"description":"The type the value at the path must have."}}},
      "description":"Assertions on the JSON body, all of which must hold. A missing path (json_path_missing) and a type mismatch (json_type_mismatch) are failures with their own message, never a silent 0."},
    "expect_headers":{"type":"array","maxItems":64,"items":{"type":"object","additionalProperties":false,"required":["name"],"properties":{
      "name":{"type":"string","minLength":1,"maxLength":128,"description":"Header name (case-insensitive); the final response's headers are checked."},
      "equals":{"type":"string","description":"The header's value must be exactly this."},
      "contains":{"type":"string","description":"The header's value must contain this."},
      "regex":{"type":"string","description":"The header's value must match this regular expression."},
      "absent":{"type":"boolean","default":false,"description":"The header must not be there."}}},
      "description":"Assertions on response headers, all of which must hold."},
    "follow_redirects":{"type":"boolean","default":true,"description":"Follow 3xx Location answers (only to http and https)."},
    "max_redirects":{"type":"integer","minimum":0,"maximum":50,"default":10,"description":"Redirects followed at most; one more fails with too_many_redirects."},
    "tls_verify":{"type":"boolean","default":true,"description":"Verify the server's certificate chain and host name."},
    "ca_file":{"type":"string","pattern":"^/","description":"A PEM file of CA certificates to trust instead of the system's."},
    "server_name":{"type":"string","pattern":"^[A-Za-z0-9._-]{1,253}$","description":"The TLS server name (SNI), the name the certificate is checked against and the Host header; the connection still goes to the target's host and port."},
    "tls_min_version":{"enum":["1.0","1.1","1.2","1.3"],"description":"Lowest TLS version offered."},
    "tls_max_version":{"enum":["1.0","1.1","1.2","1.3"],"description":"Highest TLS version offered."},
    "client_cert":{"type":"string","pattern":"^/","description":"A PEM client certificate for mutual TLS (with client_key)."},
    "client_key":{"type":"string","pattern":"^/","description":"The PEM private key of client_cert (unencrypted)."},
    "cert_expiry_days":{"type":"integer","minimum":0,"maximum":3650,"default":14,"description":"A certificate of the chain that expires within this many days makes the check cert_expiry_status (tls_expiring). 0 turns it off."},
    "cert_expiry_status":{"enum":["degraded","down"],"default":"degraded","description":"What a certificate close to expiry makes the check."},
    "basic_auth":{"type":"object","additionalProperties":false,"required":["username","password"],"properties":{"username":{"type":"string","maxLength":1024,"pattern":"^[^:]*$"},"password":{"type":"string","maxLength":1024}},"description":"HTTP Basic authentication. Never echoed in messages or details."},
    "bearer_token":{"type":"string","minLength":1,"maxLength":8192,"pattern":"^[^\\r\\n]*$","description":"Sent as Authorization: Bearer TOKEN. Never echoed in messages or details."},
    "http_version":{"enum":["auto","1.1","2"],"default":"auto","description":"auto: HTTP/2 when the server offers it over TLS, else HTTP/1.1; 1.1: HTTP/1.1 only; 2: HTTP/2 required (over TLS through ALPN, in clear text with prior knowledge); a server that answers otherwise fails with http_version_mismatch."},
    "proxy":{"type":"string","pattern":"^(http|https|socks4|socks4a|socks5|socks5h)://","maxLength":2048,"description":"A proxy URL, e.g. http://proxy:3128 or socks5h://proxy:1080. Without it no proxy is used (the environment is ignored)."},
    "ip_version":{"enum":["any","4","6"],"default":"any","description":"Which address family to connect over."},
    "dns_servers":{"type":"array","minItems":1,"maxItems":8,"items":{"type":"string","pattern":"^[0-9A-Fa-f:.\\[\\]]+$"},"description":"Resolve the target's host with these DNS servers (ADDRESS or ADDRESS:PORT). Needs a libcurl built with c-ares; otherwise the check is refused with error kind unsupported."},
    "resolve":{"type":"array","maxItems":64,"items":{"type":"string","pattern":"^[^:\\s]+:[0-9]{1,5}:\\S+$"},"description":"Pin host names to addresses, as curl --resolve: HOST:PORT:ADDRESS[,ADDRESS…] (IPv6 in brackets). Host header and SNI stay the target's."},
    "connect_to":{"type":"array","maxItems":64,"items":{"type":"string","pattern":"^[^:\\s]*:[0-9]{0,5}:[^\\s]*:[0-9]{0,5}$"},"description":"Connect somewhere else, as curl --connect-to: HOST:PORT:CONNECT_HOST:CONNECT_PORT (empty parts match anything / keep the original)."},
    "timeout_ms":{"type":"integer","minimum":1,"maximum":3600000,"description":"The whole request must finish within this, else down (timeout). The supervisor's deadline always caps it."},
    "degraded_ms":{"type":"integer","minimum":1,"maximum":3600000,"description":"A check that succeeds but takes longer than this is degraded (slow)."},
    "max_body_bytes":{"type":"integer","minimum":0,"maximum":67108864,"default":1048576,"description":"The largest response body read; a larger one fails the check (body_too_large)."},
    "fresh_connection":{"type":"boolean","default":true,"description":"A new connection (DNS, connect, TLS) for every check, so timings are honest; false lets checks reuse kept-alive connections."},
    "user_agent":{"type":"string","maxLength":512,"default":"pinguin-check-http/1.0","description":"The User-Agent header."}}}
    """#)

    /// Targets are http or https URLs; nothing else reaches libcurl.
    static let targetSchema: JSONValue = try! JSONParser.parse(#"{"type":"string","pattern":"^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$","maxLength":8192}"#)
}
