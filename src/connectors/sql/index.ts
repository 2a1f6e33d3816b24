/**
 * SQL polling connector: polls PostgreSQL or MariaDB/MySQL tables (SCADA historians, line
 * databases) with one or more queries, each read once by a watermark column, and writes tags
 * through parameterised statements.
 *
 * Each row is read once in effect: a query reads the rows after its watermark, hands their
 * samples to the core, waits until they are committed, and only then persists the new watermark
 * in the hub's store (ConnectorContext.state). A crash between the commit and that save reads
 * those rows again after the restart (at-least-once); counter and state bindings take absolute
 * values, so a re-read row does not count production twice.
 */
import { backoffOf } from '../../config/common.ts';
import type { SqlConnectionConfig } from '../../config/schema.ts';
import { sqlConnectionSchema } from './config.ts';
import type {
  ConnectionStatus,
  ConnectionTestResult,
  ConnectorContext,
  ConnectorDefinition,
  ConnectorHealth,
  ConnectorInstance,
  ConnectorMetric,
} from '../../core/connector.ts';
import { withBackoff } from '../../core/backoff.ts';
import type { SampleInput } from '../../core/ingest-types.ts';
import { MwError } from '../../errors.ts';
import type { Quality, TagValue } from '../../model/index.ts';
import {
  errorText,
  isConnectionError,
  openSession,
  StatementProblem,
  type SqlResult,
  type SqlSession,
} from './driver.ts';
import { dialectOf, parseSql, type Dialect, type ParsedSql } from './placeholders.ts';
import { matchWritePattern, renderTemplate, templateNames } from './tags.ts';
import {
  cellText,
  compareWatermarks,
  convertCell,
  initialWatermark,
  isWatermark,
  qualityOf,
  timestampOf,
  watermarkOf,
  watermarkParam,
  writeParam,
  type Watermark,
} from './values.ts';

export const SQL_DEFAULTS = {
  /** At stop, how long to wait for polls whose rows are being committed. */
  stopWaitMs: 5000,
  /** Status of the connection's tags while the database is unreachable. */
  staleStatus: 'stale: connection lost',
} as const;

type QueryConfig = SqlConnectionConfig['queries'][number];

interface PolledQuery {
  readonly config: QueryConfig;
  readonly sql: ParsedSql;
  /** Columns the query's result must have. */
  readonly columns: readonly string[];
  watermark: Watermark;
  timer: NodeJS.Timeout | null;
  /** The last poll failed (logged once until it works again). */
  failing: boolean;
  rowsRead: number;
  errors: number;
  lastPollMs: number;
}

/** The session was lost while running a statement. */
class SessionLost extends Error {}

class SqlConnector implements ConnectorInstance {
  readonly type = 'sql';
  private readonly dialect: Dialect;
  private readonly queries: PolledQuery[];
  private readonly writes: { tag: string; sql: ParsedSql }[];
  private session: SqlSession | null = null;
  private status: ConnectionStatus = 'stopped';
  private detail: string | null = null;
  private lastDataTs: number | null = null;
  private reconnects = 0;
  private errors = 0;
  private connectAttempts = 0;
  private abort = new AbortController();
  /** Statements run one at a time on the session (a write's transaction is not interleaved). */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly inflight = new Set<Promise<void>>();
  /** Every tag this connection has produced (persisted), marked stale when the database is lost. */
  private readonly knownTags = new Set<string>();
  private staleSent = false;

  constructor(private readonly ctx: ConnectorContext<SqlConnectionConfig>) {
    const c = ctx.config;
    // The schema accepts only URLs of a known dialect.
    this.dialect = dialectOf(c.url) as Dialect;
    this.queries = c.queries.map((q) => ({
      config: q,
      sql: parseSql(q.sql, this.dialect),
      columns: [
        ...new Set([
          q.watermark.column,
          ...(q.timestamp === undefined ? [] : [q.timestamp]),
          ...(q.quality === undefined ? [] : [q.quality.column]),
          ...q.tags.flatMap((t) => [t.column, ...templateNames(t.tag)]),
        ]),
      ],
      watermark: initialWatermark(q.watermark.initial),
      timer: null,
      failing: false,
      rowsRead: 0,
      errors: 0,
      lastPollMs: 0,
    }));
    this.writes = c.writes.map((w) => ({ tag: w.tag, sql: parseSql(w.sql, this.dialect) }));
  }

  get id(): string {
    return this.ctx.config.id;
  }

  /** The URL without its password, for messages. */
  private get where(): string {
    return this.ctx.config.url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }

  async start(): Promise<void> {
    this.abort = new AbortController();
    this.status = 'connecting';
    for (const q of this.queries) {
      const saved = await this.ctx.state.get(`watermark/${q.config.id}`);
      if (isWatermark(saved)) q.watermark = saved;
    }
    const tags = await this.ctx.state.get('tags');
    if (Array.isArray(tags)) for (const t of tags) if (typeof t === 'string') this.knownTags.add(t);
    // Not awaited: an unreachable database must not hold up the hub's start.
    void this.connect();
  }

  private async connect(): Promise<void> {
    const { config, logger } = this.ctx;
    const signal = this.abort.signal;
    let session: SqlSession;
    try {
      session = await withBackoff(
        backoffOf(config.reconnect),
        async () => {
          if (this.connectAttempts++ > 0) this.reconnects++;
          this.status = 'connecting';
          return openSession(config.url, this.dialect, config.timeout);
        },
        {
          signal,
          onFailure: (err, attempt, delayMs) => {
            this.errors++;
            this.status = 'disconnected';
            this.detail = `cannot connect to ${this.where}: ${errorText(err)}`;
            if (attempt === 0)
              logger.warn({ err: errorText(err), retryInMs: delayMs }, this.detail);
            this.markStale();
          },
        },
      );
    } catch {
      return; // stopped
    }
    if (signal.aborted) {
      await session.close();
      return;
    }
    this.session = session;
    this.status = 'connected';
    this.detail = null;
    this.staleSent = false;
    logger.info({ url: this.where }, `SQL connected to ${this.where}`);
    session.onLost((err) => this.lose(session, err));
    for (const q of this.queries) this.schedule(q, 0);
  }

  /** The session is gone: mark the tags stale once and reconnect with backoff. */
  private lose(session: SqlSession, err: unknown): void {
    if (this.session !== session) return;
    this.session = null;
    for (const q of this.queries) {
      if (q.timer !== null) clearTimeout(q.timer);
      q.timer = null;
    }
    void session.close();
    if (this.abort.signal.aborted) return;
    this.errors++;
    this.status = 'disconnected';
    this.detail = `connection lost: ${errorText(err)}`;
    this.ctx.logger.warn({ url: this.where, err: errorText(err) }, 'SQL connection lost');
    this.markStale();
    void this.connect();
  }

  /** Each known tag once with quality bad, so no value stays good while nothing is read. */
  private markStale(): void {
    if (this.staleSent) return;
    this.staleSent = true;
    const receivedTs = Date.now();
    for (const tag of this.knownTags) {
      this.ctx
        .ingestSample({
          connectionId: this.id,
          tag,
          value: null,
          quality: 'bad',
          status: SQL_DEFAULTS.staleStatus,
          sourceTs: null,
          receivedTs,
        })
        .catch((err: unknown) =>
          this.ctx.logger.warn({ err, tag }, 'could not record the stale state of a tag'),
        );
    }
  }

  private schedule(q: PolledQuery, delayMs: number): void {
    if (this.session === null || this.abort.signal.aborted || q.timer !== null) return;
    q.timer = setTimeout(() => {
      q.timer = null;
      const poll = this.poll(q).finally(() => this.inflight.delete(poll));
      this.inflight.add(poll);
    }, delayMs);
  }

  /** Run `work` on the session after the statements before it. */
  private serial<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      const session = this.session;
      if (session === null) throw new SessionLost('not connected');
      try {
        return await work(session);
      } catch (err) {
        if (!(err instanceof SessionLost) && isConnectionError(err)) {
          this.lose(session, err);
          throw new SessionLost(errorText(err));
        }
        throw err;
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async poll(q: PolledQuery): Promise<void> {
    let full = false;
    try {
      full = await this.pollOnce(q);
      if (q.failing) {
        q.failing = false;
        this.detail = null;
        this.ctx.logger.info({ query: q.config.id }, `query ${q.config.id} works again`);
      }
    } catch (err) {
      if (err instanceof SessionLost) return; // reconnecting; polls start again on connect
      q.errors++;
      this.errors++;
      this.detail = `query ${q.config.id}: ${errorText(err)}`;
      if (!q.failing)
        this.ctx.logger.warn({ query: q.config.id, err: errorText(err) }, this.detail);
      q.failing = true;
    }
    // A full page means more rows are waiting: read on at once.
    this.schedule(q, full ? 0 : q.config.every);
  }

  /** One poll: read, commit the samples, then persist the watermark. True when the page was full. */
  private async pollOnce(q: PolledQuery): Promise<boolean> {
    const params = q.sql.params.map((name) =>
      name === 'limit' ? q.config.limit : watermarkParam(q.watermark, this.dialect),
    );
    const started = performance.now();
    const result = await this.serial((s) => s.query(q.sql.text, params, this.ctx.config.timeout));
    q.lastPollMs = performance.now() - started;
    const missing = q.columns.filter((c) => !result.columns.includes(c));
    if (missing.length > 0 && (result.columns.length > 0 || result.rows.length > 0))
      throw new StatementProblem(
        `column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not in the result (it has ${result.columns.join(', ')})`,
      );
    if (result.rows.length === 0) return false;
    const receivedTs = Date.now();
    const { samples, watermark, nullWatermarks } = this.samplesOf(q, result, receivedTs);
    const newTags = samples.filter((s) => !this.knownTags.has(s.tag)).map((s) => s.tag);
    // Committed first, then the watermark: a crash in between re-reads these rows (at-least-once).
    await Promise.all(samples.map((s) => this.ctx.ingestSample(s)));
    this.lastDataTs = receivedTs;
    q.rowsRead += result.rows.length;
    if (newTags.length > 0) {
      for (const t of newTags) this.knownTags.add(t);
      await this.ctx.state.set('tags', [...this.knownTags]);
    }
    if (watermark !== null && compareWatermarks(watermark, q.watermark) > 0) {
      q.watermark = watermark;
      await this.ctx.state.set(`watermark/${q.config.id}`, watermark);
    }
    if (nullWatermarks > 0)
      throw new StatementProblem(
        `${nullWatermarks} row(s) with NULL or unusable watermark column ${q.config.watermark.column}`,
      );
    return result.rows.length >= q.config.limit;
  }

  private samplesOf(
    q: PolledQuery,
    result: SqlResult,
    receivedTs: number,
  ): { samples: SampleInput[]; watermark: Watermark | null; nullWatermarks: number } {
    const c = q.config;
    const samples: SampleInput[] = [];
    let watermark: Watermark | null = null;
    let nullWatermarks = 0;
    for (const row of result.rows) {
      const w = watermarkOf(row[c.watermark.column]);
      if (w === null) nullWatermarks++;
      else if (watermark === null || compareWatermarks(w, watermark) > 0) watermark = w;
      let rowQuality: Quality = 'good';
      const notes: string[] = [];
      let sourceTs: number | null = null;
      if (c.timestamp !== undefined) {
        const t = timestampOf(row[c.timestamp], c.timestamp);
        sourceTs = t.ts;
        if (t.problem !== null) {
          rowQuality = 'uncertain';
          notes.push(t.problem);
        }
      }
      if (c.quality !== undefined) {
        const qc = qualityOf(row[c.quality.column], c.quality.column, c.quality.map);
        if (qc.status !== null) notes.unshift(qc.status);
        if (qc.quality === 'bad' || (qc.quality === 'uncertain' && rowQuality === 'good'))
          rowQuality = qc.quality;
      }
      for (const m of c.tags) {
        const tag = renderTemplate(m.tag, (name) => cellText(row[name]));
        const converted = convertCell(row[m.column], m.type, m.column);
        const value: TagValue = converted.ok ? converted.value : null;
        const quality: Quality = converted.ok ? rowQuality : 'bad';
        const status = [...(converted.ok ? [] : [converted.reason]), ...notes].join('; ');
        samples.push({
          connectionId: this.id,
          tag,
          value,
          quality,
          status: status === '' ? null : status,
          sourceTs,
          receivedTs,
        });
      }
    }
    return { samples, watermark, nullWatermarks };
  }

  async write(tag: string, value: TagValue): Promise<void> {
    const fail = (reason: string, cause?: unknown): MwError =>
      new MwError(
        'MW_ERR_TAG_WRITE',
        { connection: this.id, tag, value: JSON.stringify(value), reason },
        { path: `connections.${this.id}`, ...(cause === undefined ? {} : { cause }) },
      );
    let entry: { sql: ParsedSql; captures: Record<string, string> } | null = null;
    for (const w of this.writes) {
      const captures = matchWritePattern(w.tag, tag);
      if (captures !== null) {
        entry = { sql: w.sql, captures };
        break;
      }
    }
    if (entry === null) throw fail('no `writes` entry of the connection matches the tag');
    const { sql, captures } = entry;
    const params = sql.params.map((name) =>
      name === 'value'
        ? writeParam(value, this.dialect)
        : name === 'tag'
          ? tag
          : (captures[name] ?? null),
    );
    try {
      await this.serial(async (s) => {
        await s.run('START TRANSACTION');
        try {
          const result = await s.query(sql.text, params, this.ctx.config.timeout);
          if (result.affected === 0) throw new StatementProblem('the statement changed no row');
          await s.run('COMMIT');
        } catch (err) {
          if (!isConnectionError(err)) await s.run('ROLLBACK').catch(() => undefined);
          throw err;
        }
      });
    } catch (err) {
      const reason =
        err instanceof SessionLost
          ? `not connected (${this.detail ?? 'connecting'})`
          : errorText(err);
      throw fail(reason, err);
    }
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('stopped'));
    for (const q of this.queries) {
      if (q.timer !== null) clearTimeout(q.timer);
      q.timer = null;
    }
    // Polls whose rows are being committed finish, so their watermark is saved.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise((resolve) => (timer = setTimeout(resolve, SQL_DEFAULTS.stopWaitMs))),
    ]);
    clearTimeout(timer);
    const session = this.session;
    this.session = null;
    await this.chain;
    await session?.close();
    this.status = 'stopped';
  }

  health(): ConnectorHealth {
    return {
      status: this.status,
      detail: this.detail,
      lastDataTs: this.lastDataTs,
      reconnects: this.reconnects,
      errors: this.errors,
    };
  }

  metrics(): readonly ConnectorMetric[] {
    return this.queries.flatMap((q) => {
      const labels = { query: q.config.id };
      return [
        {
          name: 'sql_rows_read_total',
          help: 'Rows read by an SQL polling query.',
          type: 'counter' as const,
          labels,
          value: q.rowsRead,
        },
        {
          name: 'sql_query_errors_total',
          help: 'Failed polls of an SQL query (statement or result errors).',
          type: 'counter' as const,
          labels,
          value: q.errors,
        },
        {
          name: 'sql_poll_duration_ms',
          help: 'Duration of the last poll statement of an SQL query, in ms.',
          type: 'gauge' as const,
          labels,
          value: Math.round(q.lastPollMs * 1000) / 1000,
        },
      ];
    });
  }

  async connectionTest(): Promise<ConnectionTestResult> {
    const { url, timeout } = this.ctx.config;
    let session: SqlSession | null = null;
    try {
      session = await openSession(url, this.dialect, timeout);
      await session.query('SELECT 1', [], timeout);
      return { ok: true, message: `connected to ${this.where}` };
    } catch (err) {
      return { ok: false, message: `cannot connect to ${this.where}: ${errorText(err)}` };
    } finally {
      await session?.close();
    }
  }
}

export const sqlConnector: ConnectorDefinition<SqlConnectionConfig> = {
  type: 'sql',
  summary:
    'Polls PostgreSQL or MariaDB/MySQL tables by a watermark column (each row read once); writes tags through statements.',
  configSchema: sqlConnectionSchema,
  create: (ctx) => new SqlConnector(ctx),
};
