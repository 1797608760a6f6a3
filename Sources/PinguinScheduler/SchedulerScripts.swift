import PinguinRedis

/// The scheduler's Lua scripts. Each touches only keys of one hash tag and uses Redis `TIME`
/// as the one clock, so that every scheduler agrees on "now" and a script is one atomic step.
enum SchedulerScripts {
    /// Takes the due monitors (at most ARGV[3]) and, for each, in one step: records rows for the
    /// slots that will not run (paused, missed while nobody dispatched, skipped because the
    /// previous job is still in flight), appends a job for the slot that runs, marks it in
    /// flight, and moves the monitor to its next slot. Refuses (returns {-1}) unless the caller
    /// holds the lease with the current fencing token.
    ///
    /// A push monitor gets no job: its slot is recorded from its latest push (up, or the status
    /// the push reported, if one came since the previous slot; down if none did).
    ///
    /// KEYS: due, specs, inflight, failing, jobs, results, leader, epoch, pushes.
    /// ARGV: instance id, fencing token, batch size, most missed rows per monitor per call,
    ///       grace (ms) added to a job's timeout before its in-flight mark counts as stale.
    /// Returns {1, dispatched, skipped, paused, missed, lag µs of each dispatched job…}.
    static let dispatch = RedisScript(#"""
        if redis.call('GET', KEYS[7]) ~= ARGV[1] or redis.call('GET', KEYS[8]) ~= ARGV[2] then
            return {-1}
        end
        local t = redis.call('TIME')
        local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local now = math.floor(nowUs / 1000)
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
        local maxMissed = tonumber(ARGV[4])
        local grace = tonumber(ARGV[5])
        local dispatched, skipped, paused, missed = 0, 0, 0, 0
        local lags = {}
        local function fmt(x) return string.format('%.0f', x) end
        local function row(id, spec, slot, length, status, message, latency)
            if latency then
                redis.call('XADD', KEYS[6], '*', 'monitor', id, 'scheduled', fmt(slot * 1000), 'location', spec.l1,
                    'status', status, 'slot_ms', fmt(length), 'message', message, 'latency_ms', latency, 'supervisor', 'scheduler')
            else
                redis.call('XADD', KEYS[6], '*', 'monitor', id, 'scheduled', fmt(slot * 1000), 'location', spec.l1,
                    'status', status, 'slot_ms', fmt(length), 'message', message, 'supervisor', 'scheduler')
            end
        end
        for i = 1, #due, 2 do
            local id = due[i]
            local slot = tonumber(due[i + 1])
            local raw = redis.call('HGET', KEYS[2], id)
            if not raw then
                redis.call('ZREM', KEYS[1], id)
            else
                local spec = cjson.decode(raw)
                local failing = redis.call('SISMEMBER', KEYS[4], id) == 1
                local length = failing and spec.ri or spec.iv
                local function after(s)
                    if failing then return s + spec.ri end
                    return (math.floor((s - spec.off) / spec.iv) + 1) * spec.iv + spec.off
                end
                -- Slots that passed while nobody dispatched: one row each, never forgotten.
                local count = 0
                local nextSlot = after(slot)
                while nextSlot <= now and count < maxMissed do
                    if spec.p then
                        row(id, spec, slot, length, 'paused', 'paused')
                    else
                        row(id, spec, slot, length, 'skipped', 'missed: no job was dispatched for this slot (scheduler or Redis unavailable)')
                    end
                    count = count + 1
                    slot = nextSlot
                    nextSlot = after(slot)
                end
                missed = missed + count
                if nextSlot <= now then
                    -- Still behind: keep it due, the next call goes on recording.
                    redis.call('ZADD', KEYS[1], slot, id)
                else
                    if spec.p then
                        row(id, spec, slot, length, 'paused', 'paused')
                        paused = paused + 1
                    elseif spec.k == 'push' then
                        local last = redis.call('HGET', KEYS[9], id)
                        local at, status, duration, message = nil, nil, nil, nil
                        if last then
                            local a = string.find(last, '|', 1, true)
                            local b = string.find(last, '|', a + 1, true)
                            local c = string.find(last, '|', b + 1, true)
                            at = tonumber(string.sub(last, 1, a - 1))
                            status = string.sub(last, a + 1, b - 1)
                            duration = string.sub(last, b + 1, c - 1)
                            message = string.sub(last, c + 1)
                        end
                        if at and at > slot - length and at <= now then
                            if message == '' then message = 'push received' end
                            row(id, spec, slot, length, status, message, duration ~= '' and duration or nil)
                        elseif at then
                            row(id, spec, slot, length, 'down', 'no push for ' .. math.floor((now - at) / 1000) .. ' s')
                        else
                            row(id, spec, slot, length, 'down', 'no push received yet')
                        end
                        dispatched = dispatched + 1
                        table.insert(lags, nowUs - slot * 1000)
                    else
                        local mark = redis.call('HGET', KEYS[3], id)
                        local busy = nil
                        if mark then
                            local bar = string.find(mark, '|', 1, true)
                            if tonumber(string.sub(mark, 1, bar - 1)) > now then busy = string.sub(mark, bar + 1) end
                        end
                        if busy then
                            row(id, spec, slot, length, 'skipped', 'skipped: the previous check (job ' .. busy .. ') is still running')
                            skipped = skipped + 1
                        else
                            local scheduled = fmt(slot * 1000)
                            local job = id .. ':' .. scheduled
                            if spec.loc == '' then
                                redis.call('XADD', KEYS[5], '*', 'job', job, 'monitor', id, 'kind', spec.k, 'target', spec.t,
                                    'config', spec.c, 'timeout_ms', spec.to, 'scheduled', scheduled, 'slot_ms', length, 'fence', ARGV[2])
                            else
                                redis.call('XADD', KEYS[5], '*', 'job', job, 'monitor', id, 'kind', spec.k, 'target', spec.t,
                                    'config', spec.c, 'timeout_ms', spec.to, 'scheduled', scheduled, 'slot_ms', length, 'fence', ARGV[2],
                                    'locations', spec.loc)
                            end
                            redis.call('HSET', KEYS[3], id, fmt(now + spec.to + grace) .. '|' .. job)
                            dispatched = dispatched + 1
                            table.insert(lags, nowUs - slot * 1000)
                        end
                    end
                    redis.call('ZADD', KEYS[1], nextSlot, id)
                end
            end
        end
        local reply = {1, dispatched, skipped, paused, missed}
        for _, lag in ipairs(lags) do table.insert(reply, lag) end
        return reply
        """#)

    /// Keeps the failing set and brings failing monitors' next checks forward (``FailingSet``).
    /// KEYS: failing, due, specs. ARGV: n, then n pairs (monitor id, newest judged slot in ms),
    /// then the ids to remove from the set.
    static let failing = RedisScript(#"""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local n = tonumber(ARGV[1])
        for i = 0, n - 1 do
            local id = ARGV[2 + 2 * i]
            local slot = tonumber(ARGV[3 + 2 * i])
            redis.call('SADD', KEYS[1], id)
            local raw = redis.call('HGET', KEYS[3], id)
            local current = redis.call('ZSCORE', KEYS[2], id)
            if raw and current then
                local spec = cjson.decode(raw)
                if not spec.p and spec.k ~= 'push' then
                    local target = math.max(now, slot + spec.ri)
                    if target < tonumber(current) then redis.call('ZADD', KEYS[2], target, id) end
                end
            end
        end
        for j = 2 + 2 * n, #ARGV do redis.call('SREM', KEYS[1], ARGV[j]) end
        return 1
        """#)

    /// Takes or renews the lease. KEYS: leader, epoch. ARGV: instance id, lease ms.
    /// Returns the fencing token while this instance leads, -1 when another does.
    static let lease = RedisScript(#"""
        local current = redis.call('GET', KEYS[1])
        if not current then
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            return redis.call('INCR', KEYS[2])
        elseif current == ARGV[1] then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return tonumber(redis.call('GET', KEYS[2]) or '0')
        end
        return -1
        """#)

    /// Gives the lease up if this instance holds it. KEYS: leader. ARGV: instance id.
    static let resign = RedisScript(#"""
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """#)

    /// Releases in-flight marks whose job finished. KEYS: inflight. ARGV: monitor, job, monitor, job…
    /// A mark is released only if it is still for that job, so a late result of an old job never
    /// frees a newer one.
    static let release = RedisScript(#"""
        local released = 0
        for i = 1, #ARGV, 2 do
            local mark = redis.call('HGET', KEYS[1], ARGV[i])
            if mark then
                local bar = string.find(mark, '|', 1, true)
                if string.sub(mark, bar + 1) == ARGV[i + 1] then
                    redis.call('HDEL', KEYS[1], ARGV[i])
                    released = released + 1
                end
            end
        end
        return released
        """#)
}
