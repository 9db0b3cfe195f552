//! The Lua scripts behind every change to steps and reminders. Each runs atomically in
//! Redis: no reader ever sees half a change, and a crash cannot leave one.
//!
//! Common arguments: `ARGV[1]` is the key prefix (keys are built in the script from it and
//! from ids, so the service needs one Redis, not a cluster).

/// Lua shared by the scripts: a reminder id's step stem and occurrence index, and the parts
/// of an occurrence record.
const COMMON: &str = r"
local p = ARGV[1]
local function locate(rid)
  local hex = string.gsub(rid, '-', '')
  return string.sub(hex, 1, 24), tonumber(string.sub(hex, 25, 32), 16)
end
-- An occurrence record's due instant (s), grace (s), state letter and check-in instant (s,
-- or ''). Steps store `<due>:<grace>:<state>:<checked in at>` with due and check-in as
-- seconds after the step's `start` (`base`); older ones `<due>|<grace>|<state>|<at>` in
-- seconds since the epoch.
local function parse(rec, base)
  if not rec then return nil end
  local due, grace, st, at = string.match(rec, '^(%-?%d+):(%d+):(%a):(%-?%d*)$')
  if not due then return string.match(rec, '^(%d+)|(%d+)|(%a)|(%d*)$') end
  base = tonumber(base)
  if not base then return nil end
  if at ~= '' then at = tonumber(at) + base end
  return tonumber(due) + base, grace, st, at
end
-- The record `rec` (either form, already parsed) in state `st`, without a check-in.
local function with_state(rec, st)
  local head, sep = string.match(rec, '^(%-?%d+[|:]%d+)([|:])')
  return head .. sep .. st .. sep
end
-- A record in the stored form, from the text form the service writes (`base`: the step's
-- `start`); a record it cannot read is stored as it came, and parked when claimed.
local function stored(rec, base)
  local due, grace, st, at = string.match(rec, '^(%d+)|(%d+)|(%a)|(%d*)$')
  base = tonumber(base)
  if not due or not base then return rec end
  if at ~= '' then at = tonumber(at) - base end
  return (tonumber(due) - base) .. ':' .. grace .. ':' .. st .. ':' .. at
end
-- The first pending occurrence of step `sk` at index `n` or later (before `last`): its
-- index and due instant (ms), or `last` and nil. Reads three records a call.
local function first_pending(sk, n, last, base)
  while n < last do
    local recs = redis.call('HMGET', sk, 'o' .. n, 'o' .. (n + 1), 'o' .. (n + 2))
    for i = 1, 3 do
      if n >= last then break end
      local due, _, st = parse(recs[i], base)
      if st == 'p' then return n, tonumber(due) * 1000 end
      n = n + 1
    end
  end
  return last, nil
end
-- Puts step `stem` in `due` at `score`, or takes it out when nil.
local function place(stem, score)
  if score then
    redis.call('ZADD', p .. 'due', score, stem)
  else
    redis.call('ZREM', p .. 'due', stem)
  end
end
-- Scores and members to write to the sorted set `key` in a few calls rather than one each
-- (a call's overhead costs Redis more than the write): `add` the step or reminder at a
-- score, `drop` it; `flush` writes them, a few hundred a call (Lua's stack bounds `unpack`).
local function batch_writes(key)
  local adds, drops = {}, {}
  local w = {}
  function w.add(score, member)
    adds[#adds + 1] = score
    adds[#adds + 1] = member
  end
  function w.drop(member)
    drops[#drops + 1] = member
  end
  function w.flush()
    for i = 1, #adds, 1000 do
      redis.call('ZADD', key, unpack(adds, i, math.min(i + 999, #adds)))
    end
    for i = 1, #drops, 500 do
      redis.call('ZREM', key, unpack(drops, i, math.min(i + 499, #drops)))
    end
  end
  return w
end
-- Finds plan step `stem`'s first unsent occurrence again (`first_unsent`) and puts the step
-- in `due` at its instant, or takes it out when it has none. A step stored by an older
-- version with reminders in its own `inflight` field is left where it is (leased): the
-- next claim after the lease gives them back.
local function reschedule(sk, stem)
  local f = redis.call('HMGET', sk, 'first_unsent', 'next', 'inflight', 'start')
  local n, score = first_pending(sk, tonumber(f[1] or '0'), tonumber(f[2] or '0'), f[4])
  redis.call('HSET', sk, 'first_unsent', n)
  if (f[3] or '') == '' then place(stem, score) end
end
";

fn with_common(body: &str) -> String {
    format!("{COMMON}{body}")
}

/// `steps.extracted`: replaces the patient's steps with the note's, unless a newer note's are
/// stored. KEYS: event, steps, user, history, due. `ARGV[2]`: the JSON of
/// `store::plan::Replacement`, `ARGV[3]` the record form (`compact` or `epoch`, see
/// `store::RecordForm`), then each step's sealed text (bytes), checklist first.
/// Returns `{1, cancelled}` applied, `{0}` a duplicate of an event answered `{2}` before,
/// `{2}` an older (or the same) note (its event id is remembered for a week), `{3, zone}`
/// the time zone changed since the caller read it (compute again), `{5}` a step id already
/// used.
pub fn replace_steps() -> String {
    with_common(
        r"
local r = cjson.decode(ARGV[2])
local epoch = ARGV[3] == 'epoch'
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local cur_at = redis.call('HGET', KEYS[2], 'note_created_at')
if cur_at then
  local cur_note = redis.call('HGET', KEYS[2], 'note_id')
  if cur_note == r.note_id or cur_at > r.note_created_at
     or (cur_at == r.note_created_at and cur_note > r.note_id) then
    redis.call('SET', KEYS[1], '1', 'EX', r.event_ttl)
    return {2}
  end
end
local zone = redis.call('HGET', KEYS[3], 'timezone') or 'UTC'
if zone ~= r.timezone then return {3, zone} end
for _, list in ipairs({r.checklist, r.plan}) do
  for _, s in ipairs(list) do
    if redis.call('EXISTS', p .. 'step:' .. s.stem) == 1 then return {5} end
  end
end
-- No event key when applied: the note id stored in `steps:` answers a redelivery (above),
-- and a key per patient would cost every pending reminder bytes for a week.

local cancelled = 0
for _, field in ipairs({'checklist', 'plan'}) do
  local stems = redis.call('HGET', KEYS[2], field)
  for stem in string.gmatch(stems or '', '%S+') do
    local sk = p .. 'step:' .. stem
    -- The replaced steps join the history (patients from before kept every step there).
    if not redis.call('LPOS', KEYS[4], stem) then redis.call('RPUSH', KEYS[4], stem) end
    local status = redis.call('HGET', sk, 'status')
    if status == 'pending' or status == 'active' then
      redis.call('HSET', sk, 'status', 'cancelled', 'cancelled_at', r.now)
    end
    if field == 'plan' then
      -- Reminders not sent yet are the newest ones: walk back until all are found.
      local left = tonumber(redis.call('HGET', sk, 'unsent') or '0')
      local n = tonumber(redis.call('HGET', sk, 'next') or '0') - 1
      while left > 0 and n >= 0 do
        local rec = redis.call('HGET', sk, 'o' .. n)
        local _, _, st = parse(rec, 0)
        if st == 'p' then
          redis.call('HSET', sk, 'o' .. n, with_state(rec, 'c'))
          left = left - 1
          cancelled = cancelled + 1
        end
        n = n - 1
      end
      redis.call('HSET', sk, 'unsent', 0)
      reschedule(sk, stem)
    end
  end
end

local checklist, plan = {}, {}
-- The texts follow the JSON and the record form, one argument each, checklist first.
local text = 3
for _, s in ipairs(r.checklist) do
  text = text + 1
  redis.call('HSET', p .. 'step:' .. s.stem, 'id', s.id, 'patient', r.patient,
    'kind', 'checklist', 'status', 'pending', 'created_at', r.now)
  redis.call('SET', p .. 'text:' .. s.stem, ARGV[text])
  table.insert(checklist, s.stem)
end
for _, s in ipairs(r.plan) do
  text = text + 1
  local sk = p .. 'step:' .. s.stem
  redis.call('HSET', sk, 'id', s.id, 'patient', r.patient, 'kind', 'plan',
    'status', 'active', 'created_at', r.now, 'schedule', s.schedule, 'duration', s.duration,
    'start', s.start, 'count', s.count, 'missed', 0, 'done', 0, 'next', s.next,
    'last_due', s.last_due, 'unsent', #s.occurrences, 'first_unsent', 0)
  for _, o in ipairs(s.occurrences) do
    redis.call('HSET', sk, 'o' .. o.n, epoch and o.record or stored(o.record, s.start))
  end
  if s.occurrences[1] then
    redis.call('ZADD', KEYS[5], s.occurrences[1].score, s.stem)
  end
  redis.call('SET', p .. 'text:' .. s.stem, ARGV[text])
  table.insert(plan, s.stem)
end
redis.call('HSET', KEYS[2], 'note_id', r.note_id, 'note_created_at', r.note_created_at,
  'extractor', r.extractor, 'fallback', r.fallback, 'updated_at', r.now)
-- An empty list is no field: most notes have no checklist, and every field costs bytes.
for _, list in ipairs({{'checklist', checklist}, {'plan', plan}}) do
  if #list[2] > 0 then
    redis.call('HSET', KEYS[2], list[1], table.concat(list[2], ' '))
  else
    redis.call('HDEL', KEYS[2], list[1])
  end
end
return {1, cancelled}
",
    )
}

/// Claims up to `ARGV[4]` members of the sorted set `KEYS[1]` whose score is at most
/// `ARGV[2]` (now, ms) by moving their score to `ARGV[2] + ARGV[3]` (the lease): a claim not
/// acknowledged by then is claimed again. Returns the members.
pub const CLAIM: &str = r"
local now, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
for _, m in ipairs(members) do
  redis.call('ZADD', KEYS[1], 'XX', now + lease, m)
end
return members
";

/// Claims plan steps of `due` whose score is at most `ARGV[3]` (the horizon, ms: now, or a
/// little later to claim ahead) in due order and takes their pending occurrences due by the
/// horizon, at most `ARGV[5]` reminders in all: each becomes `s`ent. What a claim takes is
/// held under one lease (`ARGV[6]`, the dispatcher's lease id for this round): the list
/// `lease:<id>` of (stem, n) pairs, and the member `<id>` of the sorted set `leases` at
/// `ARGV[3] + ARGV[4]`, when the lease runs out. The acknowledgement ends the lease; what a
/// lease that ran out held (the dispatcher crashed, or could not publish) the next claim
/// takes over first and returns again. So a claim writes one record per round, not one per
/// step, and the acknowledgement never touches a step.
///
/// A claimed step goes back into `due` at once, at its first pending occurrence not taken
/// (or leaves it when none is left). A step whose share the batch cut short is thus
/// already due again and competes with the others by due instant: delivery follows due
/// order up to one batch, and no patient holds up the others however many reminders they
/// have. A step takes only what falls due before the next step's first reminder.
///
/// An occurrence whose grace period ended before it could be sent (`ARGV[2]`, now, ms; the
/// dispatchers were down) is marked missed instead, and announced as such. A step whose
/// bookkeeping fields or an occurrence record cannot be read is parked: taken out of `due`,
/// added to the set `parked` and reported, so one corrupt record neither stops the script
/// nor holds up the other steps. Steps stored by an older version with occurrences in
/// their own `inflight` field give those back too.
///
/// Returns per reminder `{kind, stem, n, patient, step id, due, grace}` (seconds), `kind`
/// `due` or `missed` (the caller makes the reminder id from the step id and `n`: Lua's
/// string formatting costs Redis more than the rest of the claim), `{'parked', stem, why}`
/// per parked step and `{'more', stem}` per step that should get more occurrences (active,
/// fewer than `ARGV[7]` unsent, its course not all materialised); the caller reads the
/// sealed titles (`text:` keys) itself, outside the script, where Redis spends no
/// interpreter time on them.
pub fn claim_and_send() -> String {
    with_common(
        r"
local now_ms, horizon, lease, batch = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local lease_id, lookahead = ARGV[6], tonumber(ARGV[7])
local due_key, leases_key = p .. 'due', p .. 'leases'
-- One more than the claim may take: its score bounds the last claimed step's share.
local heads = redis.call('ZRANGEBYSCORE', due_key, '-inf', horizon, 'WITHSCORES', 'LIMIT', 0, batch + 1)
local expired = redis.call('ZRANGEBYSCORE', leases_key, '-inf', now_ms, 'LIMIT', 0, 8)
local out, taken, held = {}, 0, {}
local due_writes = batch_writes(due_key)
local function park(stem, why)
  redis.call('ZREM', due_key, stem)
  redis.call('SADD', p .. 'parked', stem)
  out[#out + 1] = {'parked', stem, why}
end
-- A reminder this claim returns, held under its lease until acknowledged.
local function hold(st, stem, n, patient, step_id, due, grace)
  taken = taken + 1
  out[#out + 1] = {st == 's' and 'due' or 'missed', stem, n, patient, step_id, due, grace}
  held[#held + 1] = stem
  held[#held + 1] = n
end
-- Leases that ran out first: their dispatcher is gone or could not publish, and what they
-- held is the most overdue. It goes out again under this claim's lease (a late
-- acknowledgement of the old one finds it gone and writes nothing).
for _, id in ipairs(expired) do
  if taken >= batch then break end
  if id ~= lease_id then
    local old = p .. 'lease:' .. id
    local items = redis.call('LRANGE', old, 0, -1)
    for i = 1, #items - 1, 2 do
      local stem, k = items[i], items[i + 1]
      local f = redis.call('HMGET', p .. 'step:' .. stem, 'patient', 'id', 'o' .. k, 'start')
      local due, grace, st = parse(f[3], f[4])
      if f[1] and f[2] and (st == 's' or st == 'm') then
        hold(st, stem, k, f[1], f[2], due, grace)
      end
    end
    redis.call('DEL', old)
    redis.call('ZREM', leases_key, id)
  end
end
for j = 1, math.min(#heads / 2, batch) do
  if taken >= batch then break end
  local stem = heads[2 * j - 1]
  -- A step takes its occurrences due no later than the next step's first: the claim
  -- takes reminders in due order across steps, not one step's whole backlog first.
  local bound = tonumber(heads[2 * j + 2] or horizon)
  local sk = p .. 'step:' .. stem
  local f = redis.call('HMGET', sk, 'patient', 'id', 'status', 'first_unsent', 'next', 'inflight', 'unsent', 'missed', 'count', 'start')
  local n, last = tonumber(f[4] or '0'), tonumber(f[5] or '0')
  local unsent, missed = tonumber(f[7] or '0'), tonumber(f[8] or '0')
  if not f[2] then
    due_writes.drop(stem)
  elseif not (f[1] and n and last and unsent and missed) then
    park(stem, 'fields')
  else
    local patient, step_id = f[1], f[2]
    local writes, head, corrupt = {}, nil, nil
    if (f[6] or '') ~= '' then
      -- Stored by a version that kept a step's reminders in flight in the step itself.
      for k in string.gmatch(f[6], '%d+') do
        local due, grace, st = parse(redis.call('HGET', sk, 'o' .. k), f[10])
        if st == 's' or st == 'm' then hold(st, stem, k, patient, step_id, due, grace) end
      end
      redis.call('HDEL', sk, 'inflight', 'head')
    end
    while n < last and not head and not corrupt do
      -- Three records a read: usually the one due now and the next, not due yet.
      local recs = redis.call('HMGET', sk, 'o' .. n, 'o' .. (n + 1), 'o' .. (n + 2))
      for i = 1, 3 do
        if n >= last then break end
        local due, grace, st = parse(recs[i], f[10])
        if recs[i] and not st then
          corrupt = 'o' .. n
          break
        end
        if st == 'p' then
          local due_ms = tonumber(due) * 1000
          if due_ms > bound or taken >= batch then
            head = due_ms
            break
          end
          unsent = unsent - 1
          local key = 'o' .. n
          if f[3] == 'cancelled' then
            -- Replacement cancels these; one it missed is cancelled here rather than sent.
            writes[#writes + 1] = key
            writes[#writes + 1] = with_state(recs[i], 'c')
          elseif (tonumber(due) + tonumber(grace)) * 1000 < now_ms then
            -- Its check-in window closed before it could be sent (the dispatchers were
            -- down): missed, not sent; the patient is not told of a dose they can no
            -- longer check in.
            missed = missed + 1
            writes[#writes + 1] = key
            writes[#writes + 1] = with_state(recs[i], 'm')
            hold('m', stem, n, patient, step_id, due, grace)
          else
            writes[#writes + 1] = key
            writes[#writes + 1] = with_state(recs[i], 's')
            hold('s', stem, n, patient, step_id, due, grace)
          end
        end
        n = n + 1
      end
    end
    redis.call('HSET', sk, 'first_unsent', n, 'unsent', unsent, 'missed', missed, unpack(writes))
    if corrupt then
      -- What was taken before the corrupt record is published and acknowledged; the
      -- step stays out of `due` until someone repairs it.
      park(stem, corrupt)
    elseif head then
      due_writes.add(head, stem)
    else
      due_writes.drop(stem)
    end
    -- More occurrences: active, fewer than `lookahead` unsent, course not all materialised.
    if f[3] == 'active' and unsent < lookahead
       and (f[9] == nil or f[9] == '' or last < tonumber(f[9]) + missed) then
      out[#out + 1] = {'more', stem}
    end
  end
end
if #held > 0 then
  local key = p .. 'lease:' .. ARGV[6]
  for i = 1, #held, 1000 do
    redis.call('RPUSH', key, unpack(held, i, math.min(i + 999, #held)))
  end
  redis.call('ZADD', leases_key, horizon + lease, lease_id)
end
due_writes.flush()
return out
",
    )
}

/// Lua: whether the plan step `sk` should get more occurrences (active, fewer than
/// `lookahead` unsent, its course not all materialised).
const NEEDS_MORE: &str = r"
local function needs_more(sk, lookahead)
  local f = redis.call('HMGET', sk, 'status', 'unsent', 'next', 'count', 'missed')
  if f[1] ~= 'active' or tonumber(f[2] or '0') >= lookahead then return false end
  if f[4] == nil or f[4] == '' then return true end
  return tonumber(f[3]) < tonumber(f[4]) + tonumber(f[5] or '0')
end
";

/// Ends the lease `ARGV[2]` of a dispatcher's round of claims once it has published what
/// it held. `ARGV[3]` caps each patient's feed (about that many entries); `ARGV[4]` is how
/// many reminders it could not publish, given next as (stem, n) pairs: they stay held until
/// the lease runs out, and another claim takes them over then. After them come, per
/// reminder announced as due, its patient, reminder id, step id, due instant (s) and grace
/// end (ms): it is appended to its patient's feed (so the feed shows it once, after its
/// publication, however often a claim was retried) and waits in `grace` until its grace
/// period ends (one checked in meanwhile is skipped when its entry comes up). The caller
/// passes what the claim returned, so Redis reads no step here. Returns 1, or 0 when the
/// lease had run out and another claim took it over: that claim publishes its reminders
/// again and its acknowledgement writes the feed, so this one writes nothing.
pub fn acknowledge_sent() -> String {
    with_common(
        r"
local id, key, feed_max = ARGV[2], p .. 'lease:' .. ARGV[2], ARGV[3]
local first = 5 + 2 * tonumber(ARGV[4])
if not redis.call('ZSCORE', p .. 'leases', id) then return 0 end
redis.call('DEL', key)
if first > 5 then
  for i = 5, first - 1, 1000 do
    redis.call('RPUSH', key, unpack(ARGV, i, math.min(i + 999, first - 1)))
  end
else
  redis.call('ZREM', p .. 'leases', id)
end
local grace_writes = batch_writes(p .. 'grace')
for i = first, #ARGV - 4, 5 do
  grace_writes.add(ARGV[i + 4], ARGV[i + 1])
  redis.call('XADD', p .. 'feed:' .. ARGV[i], 'MAXLEN', '~', feed_max, '*',
    'reminder_id', ARGV[i + 1], 'step_id', ARGV[i + 2], 'due_at', ARGV[i + 3])
end
grace_writes.flush()
return 1
",
    )
}

/// Reads again up to `ARGV[2]` steps of `parked` (at random): one whose bookkeeping fields
/// and unsent occurrence records all read now (an operator repaired it, or a replica of an
/// older version parked a record only a newer one reads) leaves `parked` and goes back
/// into `due` at its first pending occurrence; one that is gone leaves `parked`; the
/// others stay. Returns how many went back.
pub fn unpark() -> String {
    with_common(
        r"
local back = 0
for _, stem in ipairs(redis.call('SRANDMEMBER', p .. 'parked', tonumber(ARGV[2]))) do
  local sk = p .. 'step:' .. stem
  local f = redis.call('HMGET', sk, 'id', 'patient', 'first_unsent', 'next', 'unsent', 'missed', 'start')
  local n, last = tonumber(f[3] or '0'), tonumber(f[4] or '0')
  if not f[1] then
    redis.call('SREM', p .. 'parked', stem)
  elseif f[2] and n and last and tonumber(f[5] or '0') and tonumber(f[6] or '0') then
    local readable = true
    for k = n, last - 1 do
      local rec = redis.call('HGET', sk, 'o' .. k)
      local _, _, st = parse(rec, f[7])
      if rec and not st then
        readable = false
        break
      end
    end
    if readable then
      redis.call('SREM', p .. 'parked', stem)
      reschedule(sk, stem)
      back = back + 1
    end
  end
end
return back
",
    )
}

/// Ends the grace period of claimed reminders (`ARGV[3..]`) not checked in: they become
/// `m`issed and each adds one occurrence to its course. Returns per reminder
/// `{id, patient, step id, due, needs more (0/1)}` to publish (also for one already marked
/// by a claim that crashed before publishing), or `{id}` when checked in or cancelled.
pub fn miss() -> String {
    with_common(&format!(
        "{NEEDS_MORE}{}",
        r"
local lookahead = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV do
  local rid = ARGV[i]
  local stem, n = locate(rid)
  local sk = p .. 'step:' .. stem
  local f = redis.call('HMGET', sk, 'o' .. n, 'start', 'patient', 'id')
  local due, _, st = parse(f[1], f[2])
  if st == 'p' or st == 's' or st == 'm' then
    if st ~= 'm' then
      redis.call('HSET', sk, 'o' .. n, with_state(f[1], 'm'))
      redis.call('HINCRBY', sk, 'missed', 1)
      if st == 'p' then
        redis.call('HINCRBY', sk, 'unsent', -1)
        reschedule(sk, stem)
      end
    end
    table.insert(out, {rid, f[3], f[4], due, needs_more(sk, lookahead) and 1 or 0})
  else
    table.insert(out, {rid})
  end
end
return out
"
    ))
}

/// Removes `ARGV[2..]` from the sorted set `KEYS[1]` (their events are published).
pub const ACKNOWLEDGE: &str = r"
local removed = 0
for i = 2, #ARGV do
  removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
end
return removed
";

/// A patient checks in a reminder. KEYS[1] the step; `ARGV[2]` reminder id, `ARGV[3]` the
/// caller, `ARGV[4]` now (s), `ARGV[5]` how many unsent to keep. Returns `{outcome, record,
/// needs more}`: outcome `done` (now), `again` (checked in before), `not_found`,
/// `forbidden`, `not_yet_due`, `already_missed`, `cancelled`.
pub fn check_in() -> String {
    with_common(&format!(
        "{NEEDS_MORE}{}",
        r"
local rid, caller, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local stem, n = locate(rid)
local f = redis.call('HMGET', KEYS[1], 'o' .. n, 'patient', 'start')
local rec = f[1]
local due, grace, st, at = parse(rec, f[3])
if not st then return {'not_found'} end
if f[2] ~= caller then return {'forbidden'} end
-- The caller reads the record in its text form, in seconds since the epoch.
local text = due .. '|' .. grace .. '|' .. st .. '|' .. at
if st == 'd' then return {'again', text} end
if st == 'c' then return {'cancelled', text} end
if st == 'm' then return {'already_missed', text} end
due, grace = tonumber(due), tonumber(grace)
if now < due - grace then return {'not_yet_due', text} end
if now > due + grace then return {'already_missed', text} end
local checked = with_state(rec, 'd')
if string.find(rec, ':', 1, true) then
  checked = checked .. (now - tonumber(f[3]))
else
  checked = checked .. now
end
redis.call('HSET', KEYS[1], 'o' .. n, checked)
rec = due .. '|' .. grace .. '|d|' .. now
local done = redis.call('HINCRBY', KEYS[1], 'done', 1)
if st == 'p' then
  redis.call('HINCRBY', KEYS[1], 'unsent', -1)
  reschedule(KEYS[1], stem)
end
redis.call('ZREM', p .. 'grace', rid)
redis.call('ZADD', p .. 'checkins', now * 1000, rid)
local f = redis.call('HMGET', KEYS[1], 'status', 'count')
if f[1] == 'active' and f[2] and f[2] ~= '' and done >= tonumber(f[2]) then
  redis.call('HSET', KEYS[1], 'status', 'completed')
end
return {'done', rec, needs_more(KEYS[1], tonumber(ARGV[5])) and 1 or 0}
"
    ))
}

/// Materialises more occurrences. `ARGV[2]`: JSON list of `store::plan::TopUp`, `ARGV[3]`
/// the record form (`compact` or `epoch`). For each
/// step still `active` whose `next` is what the caller read: the occurrences from `from` to
/// `next - 1` (pending ones a time-zone change moves) are removed, then the new ones added.
/// A step changed meanwhile is left alone (its next change tops it up). Returns how many
/// steps changed.
pub fn top_up() -> String {
    with_common(
        r"
local changed = 0
for _, t in ipairs(cjson.decode(ARGV[2])) do
  local sk = p .. 'step:' .. t.stem
  local f = redis.call('HMGET', sk, 'status', 'next', 'start')
  local ok = f[1] == 'active' and tonumber(f[2]) == t.expect_next
  if ok then
    for n = t.from, t.expect_next - 1 do
      local _, _, st = parse(redis.call('HGET', sk, 'o' .. n), 0)
      if st ~= 'p' then ok = false end
    end
  end
  if ok then
    for n = t.from, t.expect_next - 1 do
      redis.call('HDEL', sk, 'o' .. n)
    end
    local added = 0
    for _, o in ipairs(t.occurrences) do
      redis.call('HSET', sk, 'o' .. o.n, ARGV[3] == 'epoch' and o.record or stored(o.record, f[3]))
      added = added + 1
    end
    redis.call('HINCRBY', sk, 'unsent', added - (t.expect_next - t.from))
    redis.call('HSET', sk, 'next', t.next, 'last_due', t.last_due)
    local first = tonumber(redis.call('HGET', sk, 'first_unsent') or '0')
    if first > t.from then redis.call('HSET', sk, 'first_unsent', t.from) end
    reschedule(sk, t.stem)
    changed = changed + 1
  end
end
return changed
",
    )
}

/// A patient completes a checklist item. KEYS[1] the step; `ARGV[2]` the item id,
/// `ARGV[3]` the caller, `ARGV[4]` now. Returns `{outcome}`: `done`, `again`, `not_found`,
/// `forbidden`, `cancelled`.
pub const COMPLETE_ITEM: &str = r"
local f = redis.call('HMGET', KEYS[1], 'id', 'kind', 'patient', 'status')
if f[1] ~= ARGV[2] or f[2] ~= 'checklist' then return {'not_found'} end
if f[3] ~= ARGV[3] then return {'forbidden'} end
if f[4] == 'done' then return {'again'} end
if f[4] == 'cancelled' then return {'cancelled'} end
redis.call('HSET', KEYS[1], 'status', 'done', 'completed_at', ARGV[4])
return {'done'}
";
