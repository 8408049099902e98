import type { FastifyBaseLogger } from 'fastify'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import { withDeadline } from '../../deadline'
import type { SqlDialect, SqlExecutor } from '../sql/dialect'
import type { Freshness, ReadStores, RoutedReads } from '../reads'

/** A MariaDB GTID position (`0-1-100,1-2-5`): per replication domain, the highest sequence number applied. */
export type GtidPos = ReadonlyMap<number, number>

export function parseGtidPos (text: string | null | undefined): GtidPos {
  const pos = new Map<number, number>()
  for (const gtid of (text ?? '').split(',')) {
    const [domain, , seq] = gtid.trim().split('-')
    if (domain === undefined || seq === undefined || domain === '') continue
    pos.set(Number(domain), Math.max(Number(seq), pos.get(Number(domain)) ?? 0))
  }
  return pos
}

/** Whether a server at `have` has applied every transaction of `need` (sequence numbers grow within a domain). */
export function covers (have: GtidPos, need: GtidPos): boolean {
  for (const [domain, seq] of need) if ((have.get(domain) ?? -1) < seq) return false
  return true
}

function merged (a: GtidPos, b: GtidPos): GtidPos {
  const out = new Map(a)
  for (const [domain, seq] of b) out.set(domain, Math.max(seq, out.get(domain) ?? 0))
  return out
}

/** How often each instance asks every replica (and the primary) where it is. */
const POLL_MS = 500
/** A replica (or the primary's position) that does not answer a poll within this is not used: noticed within 2 s. */
const POLL_TIMEOUT_MS = 1000
/** How long a cache fill waits for a replica to apply the primary's current position before reading the primary. */
const FILL_WAIT_S = 0.05

export interface Replica {
  /** `replica-1`...: the position in DATABASE_REPLICA_URLS, what logs and metrics call it (never the URL). */
  name: string
  pool: Pool
  stores: ReadStores
}

interface State {
  replica: Replica
  /** The last poll answered (and no read failed since). */
  up: boolean
  /** GTID position of the last poll. */
  pos: GtidPos
  sqlRunning: boolean
  /**
   * The send time of the newest primary position sample this replica had applied: it holds
   * every write committed before then, so its data is at most `now - coveredAt` old.
   */
  coveredAt: number | undefined
  /** Why it is not used, as last logged (undefined: usable). */
  skipped: string | undefined
  polling: boolean
  reads: number
}

export interface ReplicaStatus { name: string, usable: boolean, lagSeconds: number | undefined, reads: number }

/**
 * Routes the uncached reads of books and users (src/stores/reads.ts) to MariaDB replicas that
 * are current enough, and everything else stays on the primary. Each instance polls every
 * replica and the primary every POLL_MS (never per request): the primary's
 * `@@gtid_binlog_pos` is sampled with its send time, and a replica whose `Gtid_Slave_Pos`
 * (`@@gtid_slave_pos`) covers a sample holds every write committed before that time. So its data's age is bounded
 * by `now - coveredAt` whatever its threads do (a stopped SQL thread, a broken link, an idle
 * primary), and Seconds_Behind_Master's blind spots do not matter. A replica is used when:
 * - it answered its last poll (within POLL_TIMEOUT_MS) and no read on it failed since;
 * - its data is at most `maxLagSeconds` old at the moment of the read;
 * - `own-writes`: its last position covers every write this instance acknowledged
 *   (noteWrite() records the primary's position after each commit);
 * - `current`: it has applied the primary's position taken when the read began (one trivial
 *   query on the primary, then the last poll's position or MASTER_GTID_WAIT for at most
 *   FILL_WAIT_S on the replica), else the primary answers.
 * A read on a replica that fails or takes longer than `readTimeoutMs` is answered by the
 * primary, and the replica is not used again until a poll answers.
 */
export function createReplicaRouter ({ primary, primaryStores, replicas, maxLagSeconds, readTimeoutMs, log }: {
  primary: Pool
  primaryStores: ReadStores
  replicas: Replica[]
  maxLagSeconds: number
  readTimeoutMs: number
  log: FastifyBaseLogger
}) {
  const states: State[] = replicas.map((replica) => ({
    replica, up: false, pos: new Map(), sqlRunning: false, coveredAt: undefined, skipped: 'not polled yet', polling: false, reads: 0
  }))
  /** Primary positions by send time, oldest first; kept for as long as a replica may lag. */
  const samples: Array<{ at: number, pos: GtidPos }> = []
  let sampling = false
  /** Every write this instance acknowledged is within this position. */
  let ownPos: GtidPos = new Map()
  /** A write whose position could not be read: reads stay on the primary until then. */
  let primaryOnlyUntil = 0
  let primaryReads = 0
  let next = 0

  const maxLagMs = maxLagSeconds * 1000
  const posOf = async (pool: Pool, sql: string, timeout: number): Promise<string> => {
    const [rows] = await pool.query<RowDataPacket[]>({ sql, timeout })
    return String(rows[0]?.pos ?? '')
  }

  /** Logs each change of a replica's state once, with its reason: never a URL. */
  function mark (s: State, skipped: string | undefined): void {
    if (s.skipped === skipped) return
    if (skipped === undefined) log.info({ replica: s.replica.name }, 'read replica in use')
    else log.warn({ replica: s.replica.name, reason: skipped }, 'read replica skipped')
    s.skipped = skipped
  }

  function lagMs (s: State, now: number): number | undefined {
    return s.coveredAt === undefined ? undefined : Math.max(0, now - s.coveredAt)
  }

  /** Why `s` may not serve a read now, or undefined. */
  function unusable (s: State, now: number): string | undefined {
    if (!s.up) return s.skipped ?? 'not answering'
    const lag = lagMs(s, now)
    if (lag === undefined || lag > maxLagMs) {
      return `more than ${maxLagSeconds} s behind the primary${s.sqlRunning ? '' : ' (its SQL thread is not running)'}`
    }
    return undefined
  }

  async function samplePrimary (): Promise<void> {
    if (sampling) return
    sampling = true
    const at = Date.now()
    try {
      samples.push({ at, pos: parseGtidPos(await posOf(primary, 'SELECT @@gtid_binlog_pos AS pos', POLL_TIMEOUT_MS)) })
      // Keep what can still prove a replica within the bound, and always the newest.
      while (samples.length > 1 && (samples[0]?.at ?? at) < at - maxLagMs - 2 * POLL_MS) samples.shift()
    } catch (err) {
      log.warn({ err }, 'the primary\'s replication position could not be read; replicas are used only while their last proof lasts')
    } finally {
      sampling = false
    }
  }

  async function poll (s: State): Promise<void> {
    if (s.polling) return
    s.polling = true
    try {
      const [rows] = await s.replica.pool.query<RowDataPacket[]>({ sql: 'SHOW SLAVE STATUS', timeout: POLL_TIMEOUT_MS })
      const row = rows[0]
      if (row === undefined) {
        s.up = false
        mark(s, 'not replicating (SHOW SLAVE STATUS is empty)')
        return
      }
      s.sqlRunning = row.Slave_SQL_Running === 'Yes'
      // SHOW SLAVE STATUS names only the received position (Gtid_IO_Pos); this is the applied one.
      s.pos = parseGtidPos(await posOf(s.replica.pool, 'SELECT @@gtid_slave_pos AS pos', POLL_TIMEOUT_MS))
      for (let i = samples.length - 1; i >= 0; i--) {
        const sample = samples[i]
        if (sample !== undefined && covers(s.pos, sample.pos)) {
          s.coveredAt = Math.max(s.coveredAt ?? 0, sample.at)
          break
        }
      }
      s.up = true
      mark(s, unusable(s, Date.now()))
    } catch (err) {
      s.up = false
      mark(s, `not answering (${(err as { code?: string }).code ?? 'timeout'})`)
    } finally {
      s.polling = false
    }
  }

  // Replicas are asked after the primary's sample, so a caught-up replica covers the newest one.
  const tick = (): void => {
    void samplePrimary().finally(() => { for (const s of states) void poll(s) })
  }
  tick()
  const timer = setInterval(tick, POLL_MS)
  timer.unref()

  /** A usable replica in turn, among those `fits` lets through. */
  function pick (now: number, fits: (s: State) => boolean): State | undefined {
    for (let i = 0; i < states.length; i++) {
      const s = states[(next + i) % states.length]
      if (s !== undefined && unusable(s, now) === undefined && fits(s)) {
        next = (next + i + 1) % states.length
        return s
      }
    }
    return undefined
  }

  async function target (freshness: Freshness): Promise<State | undefined> {
    const now = Date.now()
    if (now < primaryOnlyUntil) return undefined
    if (freshness === 'own-writes') return pick(now, (s) => covers(s.pos, ownPos))
    const candidate = pick(now, (s) => s.sqlRunning)
    if (candidate === undefined) return undefined
    const need = await posOf(primary, 'SELECT @@gtid_binlog_pos AS pos', readTimeoutMs)
    const needPos = parseGtidPos(need)
    const caughtUp = states.find((s) => unusable(s, now) === undefined && covers(s.pos, needPos))
    if (caughtUp !== undefined) return caughtUp
    const [rows] = await candidate.replica.pool.query<RowDataPacket[]>(
      { sql: 'SELECT MASTER_GTID_WAIT(?, ?) AS waited', timeout: readTimeoutMs }, [need, FILL_WAIT_S])
    return Number(rows[0]?.waited) === 0 ? candidate : undefined
  }

  const read: RoutedReads = async (freshness, fn) => {
    let s: State | undefined
    try {
      s = await target(freshness)
    } catch (err) {
      log.warn({ err }, 'no replica could be chosen for a read; the primary answers')
    }
    if (s !== undefined) {
      try {
        const answer = await withDeadline(fn(s.replica.stores), readTimeoutMs, s.replica.name)
        s.reads++
        return answer
      } catch (err) {
        s.up = false
        mark(s, `a read failed (${(err as { code?: string }).code ?? (err as Error).message})`)
      }
    }
    primaryReads++
    return await fn(primaryStores)
  }

  return {
    read,
    /** Called after every commit on the primary, before the write is acknowledged. */
    async noteWrite (): Promise<void> {
      try {
        ownPos = merged(ownPos, parseGtidPos(await posOf(primary, 'SELECT @@gtid_binlog_pos AS pos', readTimeoutMs)))
      } catch (err) {
        // Any replica within the bound, measured from now, holds it: until then the primary reads.
        primaryOnlyUntil = Date.now() + maxLagMs
        log.warn({ err }, 'the position of an acknowledged write could not be read; reads stay on the primary for the lag bound')
      }
    },
    status (): ReplicaStatus[] {
      const now = Date.now()
      return [
        ...states.map((s) => {
          const lag = lagMs(s, now)
          return { name: s.replica.name, usable: unusable(s, now) === undefined, lagSeconds: lag === undefined ? undefined : lag / 1000, reads: s.reads }
        }),
        { name: 'primary', usable: true, lagSeconds: 0, reads: primaryReads }
      ]
    },
    stop (): void { clearInterval(timer) }
  }
}

export type ReplicaRouter = ReturnType<typeof createReplicaRouter>

/**
 * The primary's dialect, telling `wrote` after each statement outside a transaction and after
 * each committed transaction that ran one: the write is acknowledged only after that.
 */
export function trackingWrites (db: SqlDialect, wrote: () => Promise<void>): SqlDialect {
  return {
    ...db,
    async run (sql, params) {
      const result = await db.run(sql, params)
      await wrote()
      return result
    },
    async transaction (fn) {
      let wrote_ = false
      const result = await db.transaction((tx) => fn({
        ...tx,
        run: (sql, params) => {
          wrote_ = true
          return tx.run(sql, params)
        }
      } satisfies SqlExecutor))
      if (wrote_) await wrote()
      return result
    }
  }
}
