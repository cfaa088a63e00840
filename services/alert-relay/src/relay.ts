// Accepting and delivering. accept() filters duplicates, writes one job per channel durably and
// only then returns (the webhook answers 200 after it). The dispatcher delivers asynchronously:
// robots share a per-robot rate limit and batch what waits into one message; SMS and voice send
// one request per number per group; failures are retried with exponential backoff and jitter,
// and a job that runs out of attempts or age is marked failed (metric, log, DIR/failed).
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type {
  Channel,
  ChannelsConfig,
  DingTalkChannel,
  ReceiverConfig,
  WeComChannel,
} from './config.js';
import type { Logger } from './log.js';
import { LimiterSet } from './limiter.js';
import type { Metrics } from './metrics.js';
import type { WebhookPayload } from './payload.js';
import { buildRobotMessage, byteLength, phoneParams } from './render.js';
import type { RenderOptions } from './render.js';
import type { Outcome } from './channels/http.js';
import {
  DINGTALK_MAX_BODY,
  dingtalkMentions,
  dingtalkOverhead,
  sendDingTalk,
  sendWeCom,
  wecomLimit,
} from './channels/robots.js';
import { PROVIDERS } from './channels/phone.js';
import { Dedupe, JobStore } from './store.js';
import type { Job } from './store.js';

export interface RelayOptions {
  queueDir: string;
  timeZone: string;
  dedupeWindowMs: number;
  robotLimit: number;
  rateWindowMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  maxAgeMs: number;
  timeoutMs: number;
  /**
   * Gathering a burst for a robot: once it has had `robotLimit / 4` messages in the window,
   * its next message waits until no new alert has come for `batchQuietMs`, at most
   * `batchMaxWaitMs` after the oldest of them came. Defaults 300 ms and 2 s.
   */
  batchQuietMs?: number;
  batchMaxWaitMs?: number;
  now?: () => number;
  /** Masks credentials in text that gets stored (a far end may echo a token in its error). */
  scrub?: (text: string) => string;
}

/** A robot's identity for rate limiting and logs: a short hash of its URL, never the URL. */
export function robotId(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 12);
}

export class Relay {
  private readonly store: JobStore;
  private readonly dedupe: Dedupe;
  private readonly limiters: LimiterSet;
  private readonly jobs = new Map<string, Job>();
  private readonly busy = new Set<string>();
  private readonly waiting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private stopped = false;
  private seq = 0;
  private lastMaintenance = 0;
  private readonly now: () => number;
  config: ChannelsConfig | undefined;

  constructor(
    private readonly opts: RelayOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.now = opts.now ?? Date.now;
    this.store = new JobStore(opts.queueDir);
    this.dedupe = new Dedupe(opts.queueDir, opts.dedupeWindowMs);
    this.limiters = new LimiterSet(
      opts.robotLimit,
      opts.rateWindowMs,
      join(opts.queueDir, 'rate.json'),
    );
  }

  /** Loads what a previous process left pending; it is delivered as soon as start() runs. */
  recover(): number {
    this.dedupe.load(this.now());
    const pending = this.store.loadPending((file) =>
      this.log.error({ file }, 'unreadable job file moved to failed/'),
    );
    for (const job of pending) {
      job.nextAt = Math.min(job.nextAt, this.now());
      this.jobs.set(job.id, job);
    }
    this.updateGauges();
    return pending.length;
  }

  start(): void {
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  get depth(): number {
    return this.jobs.size;
  }

  receiver(key: string): ReceiverConfig | undefined {
    return this.config?.receivers.get(key);
  }

  /** Durably queues a payload for every channel of the receiver; returns counts. */
  accept(
    key: string,
    rc: ReceiverConfig,
    payload: WebhookPayload,
  ): { queued: number; duplicates: number } {
    const now = this.now();
    const jobs: Job[] = [];
    const keys: string[] = [];
    let duplicates = 0;
    rc.channels.forEach((ch, index) => {
      const fresh = payload.alerts.filter((a) => {
        const k = Dedupe.key(key, index, a.fingerprint, a.status);
        if (this.dedupe.isDuplicate(k, now) || keys.includes(k)) {
          duplicates++;
          this.metrics.deduplicated.inc({ channel: ch.kind });
          return false;
        }
        keys.push(k);
        return true;
      });
      if (fresh.length === 0) return;
      jobs.push({
        v: 1,
        id: `${now.toString(36).padStart(9, '0')}-${(this.seq++).toString(36).padStart(4, '0')}-${randomBytes(4).toString('hex')}`,
        receiver: key,
        channel: index,
        kind: ch.kind,
        acceptedAt: now,
        groupKey: payload.groupKey,
        groupLabels: payload.groupLabels,
        commonLabels: payload.commonLabels,
        externalURL: payload.externalURL,
        truncatedAlerts: payload.truncatedAlerts,
        alerts: fresh,
        progress: 0,
        done: [],
        attempts: 0,
        nextAt: now,
      });
    });
    this.store.addAll(jobs);
    this.dedupe.record(keys, now);
    for (const a of payload.alerts) this.metrics.received.inc({ status: a.status });
    for (const job of jobs) this.jobs.set(job.id, job);
    this.updateGauges();
    if (jobs.length > 0) this.wake(now);
    return { queued: jobs.length, duplicates };
  }

  private updateGauges(): void {
    const now = this.now();
    const depth: Record<string, number> = { dingtalk: 0, wecom: 0, sms: 0, voice: 0 };
    let oldest = now;
    for (const j of this.jobs.values()) {
      depth[j.kind] = (depth[j.kind] ?? 0) + 1;
      oldest = Math.min(oldest, j.acceptedAt);
    }
    for (const [channel, n] of Object.entries(depth)) this.metrics.queueDepth.set({ channel }, n);
    this.metrics.oldestAge.set({}, (now - oldest) / 1000);
  }

  private wake(at: number): void {
    if (this.stopped || at >= this.wakeAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(
      () => {
        this.wakeAt = Infinity;
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, at - this.now()),
    );
  }

  /** Starts every delivery that may start now and schedules the next look. */
  private pump(): void {
    if (this.stopped) return;
    const now = this.now();
    this.updateGauges();
    if (now - this.lastMaintenance > 60_000) this.maintenance(now);
    let next = now + 1000; // a periodic look refreshes the gauges and catches config changes
    const lanes = new Map<string, { ch: Channel; rc: ReceiverConfig; jobs: Job[] }>();
    for (const job of this.jobs.values()) {
      if (this.busy.has(job.id)) continue;
      const rc = this.receiver(job.receiver);
      const ch = rc?.channels[job.channel];
      if (!rc || !ch || ch.kind !== job.kind) {
        // The configuration no longer has this channel: keep retrying (it may come back) until
        // the job's attempts or age run out.
        if (job.nextAt <= now) this.retry(job, 'channel no longer configured', true);
        next = Math.min(next, job.nextAt);
        continue;
      }
      if (this.expired(job, now)) {
        this.failJob(job, 'too old');
        continue;
      }
      if (job.nextAt > now) {
        next = Math.min(next, job.nextAt);
        continue;
      }
      if (ch.kind === 'dingtalk' || ch.kind === 'wecom') {
        const lane = `${ch.kind}:${robotId(ch.url)}`;
        const entry = lanes.get(lane) ?? { ch, rc, jobs: [] };
        entry.jobs.push(job);
        lanes.set(lane, entry);
      } else {
        this.busy.add(job.id);
        void this.deliverPhone(job, ch, rc).finally(() => {
          this.busy.delete(job.id);
          this.wake(this.now());
        });
      }
    }
    for (const [lane, { ch, rc, jobs }] of lanes) {
      if (this.busy.has(lane)) continue;
      const limiter = this.limiters.get(lane);
      const wait = limiter.waitMs(now);
      if (wait > 0) {
        if (!this.waiting.has(lane)) {
          this.waiting.add(lane);
          this.metrics.rateLimitWaits.inc({ channel: ch.kind });
          this.log.debug(
            { robot: lane, waitMs: wait, queued: jobs.length },
            'robot at its rate limit; waiting',
          );
        }
        next = Math.min(next, now + wait);
        continue;
      }
      this.waiting.delete(lane);
      const hold = this.batchHold(limiter.used(now), jobs, now);
      if (hold > 0) {
        next = Math.min(next, now + hold);
        continue;
      }
      this.busy.add(lane);
      for (const j of jobs) this.busy.add(j.id);
      void this.deliverRobot(lane, ch as DingTalkChannel | WeComChannel, rc, jobs).finally(() => {
        this.busy.delete(lane);
        for (const j of jobs) this.busy.delete(j.id);
        this.wake(this.now());
      });
    }
    this.wake(next);
  }

  /**
   * How long a robot's next message waits to gather a burst. Alertmanager flushes every new
   * group of a burst on its own, a few milliseconds apart; sending whatever waits at each
   * moment spent the robot's 20 messages of the minute on the first alerts, one or two each,
   * and held the rest for a minute. So once the robot has had a quarter of its limit in the
   * window, a message leaves only when no new alert has come for batchQuietMs, or when its
   * oldest alert has waited batchMaxWaitMs. Below that (a lone alert, the start of a burst)
   * and for retries (their alerts came long ago) nothing waits.
   */
  private batchHold(used: number, jobs: Job[], now: number): number {
    if (used < Math.max(1, Math.floor(this.opts.robotLimit / 4))) return 0;
    const quiet = this.opts.batchQuietMs ?? 300;
    const maxWait = this.opts.batchMaxWaitMs ?? 2000;
    let newest = -Infinity;
    let oldest = Infinity;
    for (const j of jobs) {
      newest = Math.max(newest, j.acceptedAt);
      oldest = Math.min(oldest, j.acceptedAt);
    }
    return Math.max(0, Math.min(newest + quiet, oldest + maxWait) - now);
  }

  /** Keeps the queue directory small: compacts the dedupe log, prunes week-old failed jobs. */
  private maintenance(now: number): void {
    this.lastMaintenance = now;
    try {
      this.dedupe.maybeCompact(now);
      this.store.pruneFailed(now, 7 * 24 * 3600_000);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'queue directory maintenance failed');
    }
  }

  private expired(job: Job, now: number): boolean {
    return now - job.acceptedAt > this.opts.maxAgeMs;
  }

  private renderOpts(rc: ReceiverConfig): RenderOptions {
    return { language: rc.language, timeZone: this.opts.timeZone, links: rc.links };
  }

  private async deliverRobot(
    lane: string,
    ch: DingTalkChannel | WeComChannel,
    rc: ReceiverConfig,
    jobs: Job[],
  ): Promise<void> {
    const opts = this.renderOpts(rc);
    let outcome: Outcome;
    let msg;
    if (ch.kind === 'dingtalk') {
      const mentions = dingtalkMentions(ch);
      const jsonCost = (s: string) => byteLength(JSON.stringify(s)) - 2;
      const overhead = dingtalkOverhead(ch, 'x'.repeat(130));
      msg = buildRobotMessage(jobs, opts, DINGTALK_MAX_BODY - overhead, jsonCost, mentions);
      outcome = await sendDingTalk(ch, msg.title, msg.text, this.opts.timeoutMs);
    } else {
      msg = buildRobotMessage(jobs, opts, wecomLimit(ch), byteLength);
      outcome = await sendWeCom(ch, msg.text, this.opts.timeoutMs);
    }
    // Count the attempt against the window whatever the answer: it may have reached the robot.
    this.limiters.get(lane).record(this.now());
    try {
      this.limiters.save();
    } catch (err) {
      this.log.warn({ err: String(err) }, 'could not save rate-limit state');
    }
    const alerts = msg.parts.reduce((n, p) => n + (p.upto - p.job.progress), 0);
    if (outcome.ok) {
      this.metrics.deliveries.inc({ channel: ch.kind, outcome: 'delivered' });
      this.metrics.alertsDelivered.inc({ channel: ch.kind }, alerts);
      for (const { job, upto } of msg.parts) {
        job.progress = upto;
        job.attempts = 0;
        if (job.progress >= job.alerts.length) this.completeJob(job);
        else this.store.update(job);
      }
      this.log.info(
        {
          channel: ch.kind,
          robot: lane,
          receivers: [...new Set(msg.parts.map((p) => p.job.receiver))],
          alerts,
          groups: msg.parts.length,
        },
        'delivered',
      );
      return;
    }
    for (const { job } of msg.parts) this.retry(job, outcome.reason, outcome.retryable, lane);
  }

  private async deliverPhone(job: Job, ch: Channel, rc: ReceiverConfig): Promise<void> {
    if (ch.kind !== 'sms' && ch.kind !== 'voice') return;
    const provider = PROVIDERS[ch.provider];
    if (!provider) {
      this.failJob(job, `no provider ${ch.provider}`);
      return;
    }
    const params = phoneParams(job, rc.language);
    const numbers = ch.kind === 'sms' ? ch.phoneNumbers : ch.calledNumbers;
    for (const number of numbers) {
      if (job.done.includes(number)) continue;
      const outcome =
        ch.kind === 'sms'
          ? await provider.sendSms(ch, number, params, this.opts.timeoutMs)
          : await provider.call(ch, number, params, this.opts.timeoutMs);
      if (!outcome.ok) {
        this.retry(job, outcome.reason, outcome.retryable);
        return;
      }
      this.metrics.deliveries.inc({ channel: ch.kind, outcome: 'delivered' });
      job.done.push(number);
      if (job.done.length < numbers.length) this.store.update(job);
    }
    this.metrics.alertsDelivered.inc({ channel: ch.kind }, job.alerts.length);
    this.log.info(
      {
        channel: ch.kind,
        receiver: job.receiver,
        alerts: job.alerts.length,
        numbers: numbers.length,
      },
      'delivered',
    );
    this.completeJob(job);
  }

  private completeJob(job: Job): void {
    this.store.complete(job);
    this.jobs.delete(job.id);
  }

  private failJob(job: Job, reason: string): void {
    job.lastError = reason;
    this.store.fail(job);
    this.jobs.delete(job.id);
    this.metrics.deliveries.inc({ channel: job.kind, outcome: 'failed' });
    this.log.error(
      {
        channel: job.kind,
        receiver: job.receiver,
        job: job.id,
        attempts: job.attempts,
        alerts: job.alerts.length - job.progress,
        alertnames: [...new Set(job.alerts.map((a) => a.labels.alertname ?? ''))].slice(0, 10),
        reason,
      },
      'delivery failed for good; job moved to failed/',
    );
  }

  private retry(job: Job, rawReason: string, retryable: boolean, robot?: string): void {
    const reason = this.opts.scrub ? this.opts.scrub(rawReason) : rawReason;
    job.attempts++;
    job.lastError = reason;
    if (!retryable || job.attempts >= this.opts.maxAttempts) {
      this.failJob(job, retryable ? `${reason} (after ${job.attempts} attempts)` : reason);
      return;
    }
    this.metrics.deliveries.inc({ channel: job.kind, outcome: 'retry' });
    const exp = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (job.attempts - 1));
    const delay = Math.round(exp / 2 + Math.random() * (exp / 2)); // "equal jitter"
    job.nextAt = this.now() + delay;
    this.store.update(job);
    this.log.warn(
      {
        channel: job.kind,
        receiver: job.receiver,
        job: job.id,
        ...(robot ? { robot } : {}),
        attempt: job.attempts,
        retryInMs: delay,
        reason,
      },
      'delivery attempt failed; will retry',
    );
  }
}
