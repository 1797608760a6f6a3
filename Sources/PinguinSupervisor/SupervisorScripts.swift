import PinguinRedis

/// Lua run by supervisors; each is atomic, so a job is acknowledged exactly when its result (or
/// its hand-over) is written, and only by whoever still holds it pending.
enum SupervisorScripts {
    /// KEYS[1] the results stream, KEYS[2…] jobs streams. ARGV[1] the group, then per result: the
    /// index of its jobs stream in KEYS, the entry id, the number of field pairs, the pairs.
    /// A job no longer pending (acknowledged by another supervisor that ran it too after a
    /// claim) gets no second result. Returns how many results were written.
    static let complete = RedisScript("""
    local group = ARGV[1]
    local i = 2
    local written = 0
    while i <= #ARGV do
      local key = KEYS[tonumber(ARGV[i])]
      local id = ARGV[i + 1]
      local n = tonumber(ARGV[i + 2])
      if redis.call('XACK', key, group, id) == 1 then
        local fields = {}
        for j = 1, n * 2 do fields[j] = ARGV[i + 2 + j] end
        redis.call('XADD', KEYS[1], '*', unpack(fields))
        redis.call('XDEL', key, id)
        written = written + 1
      end
      i = i + 3 + n * 2
    end
    return written
    """)

    /// Moves a pending job to another stream (a location's, or back to the same one when handing
    /// it back at shutdown). KEYS[1] from, KEYS[2] to; ARGV[1] the group, ARGV[2] the id, then
    /// the field pairs. Returns 1 when moved, 0 when it was no longer pending.
    static let move = RedisScript("""
    if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
    redis.pcall('XGROUP', 'CREATE', KEYS[2], ARGV[1], '0', 'MKSTREAM')
    local fields = {}
    for j = 3, #ARGV do fields[j - 2] = ARGV[j] end
    redis.call('XADD', KEYS[2], '*', unpack(fields))
    redis.call('XDEL', KEYS[1], ARGV[2])
    return 1
    """)
}
