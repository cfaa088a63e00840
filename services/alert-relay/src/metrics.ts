// Prometheus text exposition, hand-written: a few counters and gauges, labels from fixed sets
// (channel kind, outcome, status), never a URL, token or receiver-supplied value.

type Labels = Record<string, string>;

class Family {
  readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = JSON.stringify(labels);
    const cur = this.values.get(key);
    if (cur) cur.value += by;
    else this.values.set(key, { labels, value: by });
  }

  set(labels: Labels, value: number): void {
    this.values.set(JSON.stringify(labels), { labels, value });
  }
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export class Metrics {
  private readonly families: Family[] = [];
  readonly received = this.family(
    'relay_alerts_received_total',
    'Alerts accepted from Alertmanager, by status.',
    'counter',
  );
  readonly requests = this.family(
    'relay_webhook_requests_total',
    'Webhook requests, by HTTP code.',
    'counter',
  );
  readonly deliveries = this.family(
    'relay_deliveries_total',
    'Delivery attempts by channel kind and outcome (delivered, retry, failed).',
    'counter',
  );
  readonly alertsDelivered = this.family(
    'relay_alerts_delivered_total',
    'Alerts delivered, by channel kind.',
    'counter',
  );
  readonly deduplicated = this.family(
    'relay_alerts_deduplicated_total',
    'Alerts not sent again within the dedupe window, by channel kind.',
    'counter',
  );
  readonly rateLimitWaits = this.family(
    'relay_rate_limit_waits_total',
    'Times a robot send waited for its per-minute limit, by channel kind.',
    'counter',
  );
  readonly queueDepth = this.family(
    'relay_queue_depth',
    'Undelivered jobs (one per alert group and channel), by channel kind.',
    'gauge',
  );
  readonly oldestAge = this.family(
    'relay_oldest_undelivered_age_seconds',
    'Age of the oldest undelivered job.',
    'gauge',
  );
  readonly configReloads = this.family(
    'relay_config_reloads_total',
    'Channels file loads, by result.',
    'counter',
  );
  readonly configLoaded = this.family(
    'relay_config_loaded',
    '1 when a valid channels file is loaded.',
    'gauge',
  );

  private family(name: string, help: string, type: 'counter' | 'gauge'): Family {
    const f = new Family(name, help, type);
    this.families.push(f);
    return f;
  }

  render(): string {
    let out = '';
    for (const f of this.families) {
      out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
      for (const { labels, value } of f.values.values()) {
        const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`);
        out += `${f.name}${l.length > 0 ? `{${l.join(',')}}` : ''} ${value}\n`;
      }
    }
    return out;
  }
}
