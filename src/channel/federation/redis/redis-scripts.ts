import type { Redis } from 'ioredis';

/** Lua that sets `now` to Redis's own clock in milliseconds, the same for every host. */
const REDIS_NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * The Lua scripts of the adapter: each reads and writes several keys in one atomic step, which
 * separate commands could not (another host acting between them).
 */
const SCRIPTS = {
  /**
   * KEYS: leader, epoch. ARGV: token, ttl ms, the caller's wall clock ms.
   * Renews the lease if `token` holds it (same epoch), takes it if nobody does (a new epoch:
   * one more than the last, and below neither the caller's clock nor Redis's, so that epochs
   * still rise after Redis lost its data: Redis's own clock is the same for every host), or
   * returns nil when another token holds it.
   */
  ipcLease: {
    numberOfKeys: 2,
    lua: `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return false end
if holder then
  local held = redis.call('GET', KEYS[2])
  if held then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(held)
  end
end
local epoch = redis.call('INCR', KEYS[2])
${REDIS_NOW_MS}
local floor = math.max(tonumber(ARGV[3]), now)
if epoch < floor then
  epoch = floor
  redis.call('SET', KEYS[2], string.format('%d', floor))
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return epoch`,
  },
  /**
   * KEYS: inbox, inbox reader. ARGV: this adapter's group, 'take' or 'keep'.
   * Makes ARGV[1] the inbox's consumer group, created (with the stream) if need be, and
   * records it as the inbox's reader. 'take' (at connect) replaces the group of an earlier
   * reader: the new group starts just before the oldest entry the old one left pending (or
   * after its last delivered one), so those are read again, in order, and the old group is
   * destroyed, which ends a blocked read of it at once. 'keep' (our group vanished: Redis lost
   * it) only recreates ours from the start of the stream, unless another reader took the inbox
   * over meanwhile (error FENCED). Returns the id the group starts after.
   */
  ipcClaimInbox: {
    numberOfKeys: 2,
    lua: `
local function before(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if seq ~= '0' then return ms .. '-' .. string.format('%d', tonumber(seq) - 1) end
  if ms == '0' then return '0' end
  return string.format('%d', tonumber(ms) - 1) .. '-18446744073709551615'
end
local old = redis.call('GET', KEYS[2])
local start = '0'
if old and old ~= ARGV[1] then
  if ARGV[2] ~= 'take' then return redis.error_reply('FENCED another adapter reads this inbox now') end
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
  if ok then
    for _, group in ipairs(groups) do
      local f = {}
      for i = 1, #group, 2 do f[group[i]] = group[i + 1] end
      if f['name'] == old then
        local pending = redis.call('XPENDING', KEYS[1], old)
        if pending[1] > 0 then start = before(pending[2]) else start = f['last-delivered-id'] end
        redis.call('XGROUP', 'DESTROY', KEYS[1], old)
      end
    end
  end
end
local ok, err = pcall(redis.call, 'XGROUP', 'CREATE', KEYS[1], ARGV[1], start, 'MKSTREAM')
if not ok then
  local text = type(err) == 'table' and err.err or tostring(err)
  if not string.find(text, 'BUSYGROUP', 1, true) then return redis.error_reply(text) end
end
redis.call('SET', KEYS[2], ARGV[1])
return start`,
  },
  /** KEYS: leader. ARGV: token. Deletes the lease only if `token` holds it. */
  ipcRelease: {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
  /**
   * KEYS: host view, hosts. ARGV: view, ttl ms, host name.
   * Sets the view with its TTL and scores the host by when it expires, on Redis's clock.
   */
  ipcPublishHost: {
    numberOfKeys: 2,
    lua: `
${REDIS_NOW_MS}
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
return 1`,
  },
  /** KEYS: hosts. Drops the hosts whose view expired and returns the others' names. */
  ipcListHosts: {
    numberOfKeys: 1,
    lua: `
${REDIS_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)`,
  },
  /**
   * KEYS: inbox. ARGV: group.
   * Removes the entries the group has delivered and had acknowledged: those before its oldest
   * pending entry, or, with none pending, before its last delivered one. Entries not yet
   * delivered come after both and stay.
   */
  ipcTrimInbox: {
    numberOfKeys: 1,
    lua: `
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
if not ok then return 0 end
if pending[1] > 0 then return redis.call('XTRIM', KEYS[1], 'MINID', pending[2]) end
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, last
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] end
    if group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  if name == ARGV[1] and last then return redis.call('XTRIM', KEYS[1], 'MINID', last) end
end
return 0`,
  },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Arg = string | number | Buffer;

/** A client with the adapter's scripts defined (run by EVALSHA, loaded again after a restart). */
export type ScriptedRedis = Redis & {
  readonly [name in ScriptName]: (...keysThenArgs: Arg[]) => Promise<unknown>;
};

/** Defines the scripts on `redis`; ioredis sends EVAL when the server lost them (NOSCRIPT). */
export function withScripts(redis: Redis): ScriptedRedis {
  for (const [name, script] of Object.entries(SCRIPTS)) redis.defineCommand(name, script);
  return redis as ScriptedRedis;
}
