// Release notifications: formats, URL redaction, and delivery to a local HTTP server.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import {
  DINGTALK_MAX_BODY_BYTES,
  Notifier,
  WECOM_MAX_CONTENT_BYTES,
  dingtalkSigned,
  formatNotice,
  redactUrl,
  truncateBytes,
} from '../../src/notify/index.js';
import type { ReleaseNotice } from '../../src/notify/index.js';

const notice: ReleaseNotice = {
  service: 'user-service',
  namespace: 'shop',
  revision: 7,
  strategy: 'canary',
  event: 'aborted',
  step: 2,
  steps: 5,
  canaryPercent: 5,
  verdict: 'abort',
  summary: 'error rate 5.1% vs 0.2% on stable',
  checks: [
    {
      name: 'error-rate',
      verdict: 'abort',
      canary: '5.1% (51/1000)',
      baseline: '0.2% (40/20000)',
      statistic: 'SPRT log-likelihood 4.9',
      threshold: '>= 4.6',
    },
  ],
  at: '2025-01-02T03:04:05.000Z',
};

const TOKEN = 'c0ffee1234567890deadbeef';

// --- formats -------------------------------------------------------------

test('json: the notice itself', () => {
  assert.deepEqual(formatNotice(notice, 'json'), notice);
});

test('dingtalk: a markdown robot message with the facts and every check', () => {
  const m = formatNotice(notice, 'dingtalk') as {
    msgtype: string;
    markdown: { title: string; text: string };
  };
  assert.equal(m.msgtype, 'markdown');
  assert.deepEqual(Object.keys(m).sort(), ['markdown', 'msgtype']);
  assert.equal(m.markdown.title, 'gantry release shop/user-service: aborted');
  for (const part of [
    'strategy canary',
    'revision 7',
    'step 2/5',
    'canary 5%',
    'verdict abort',
    'error rate 5.1% vs 0.2% on stable',
    '- **error-rate** abort: canary 5.1% (51/1000) vs baseline 0.2% (40/20000)',
    'SPRT log-likelihood 4.9 (threshold >= 4.6)',
    '2025-01-02T03:04:05.000Z',
  ]) {
    assert.ok(m.markdown.text.includes(part), `missing ${part} in\n${m.markdown.text}`);
  }
});

test('wecom: a markdown group-robot message, coloured by outcome, without lists', () => {
  const m = formatNotice(notice, 'wecom') as { msgtype: string; markdown: { content: string } };
  assert.equal(m.msgtype, 'markdown');
  assert.deepEqual(Object.keys(m.markdown), ['content']);
  const c = m.markdown.content;
  assert.match(c, /^### gantry release shop\/user-service: <font color="warning">aborted<\/font>/);
  assert.match(c, /> \*\*error-rate\*\* abort: canary 5\.1% \(51\/1000\)/);
  assert.doesNotMatch(c, /^- /m);
  const promoted = formatNotice({ ...notice, event: 'promoted', checks: [] }, 'wecom') as {
    markdown: { content: string };
  };
  assert.match(promoted.markdown.content, /<font color="info">promoted<\/font>/);
});

test('robot messages are cut to the robots’ size limits, on a character boundary', () => {
  const huge: ReleaseNotice = {
    ...notice,
    summary: '灰度发布失败，'.repeat(3000),
    checks: Array.from({ length: 300 }, (_, i) => ({ ...notice.checks![0]!, name: `q"${i}"` })),
  };
  const w = formatNotice(huge, 'wecom') as { markdown: { content: string } };
  assert.ok(Buffer.byteLength(w.markdown.content) <= WECOM_MAX_CONTENT_BYTES);
  assert.match(w.markdown.content, /…\(truncated\)$/);
  assert.doesNotMatch(w.markdown.content, /\uFFFD/);
  const d = formatNotice(huge, 'dingtalk');
  const bytes = Buffer.byteLength(JSON.stringify(d));
  assert.ok(bytes <= DINGTALK_MAX_BODY_BYTES, `${bytes} bytes`);
  assert.ok(bytes > DINGTALK_MAX_BODY_BYTES - 200, `cut too much: ${bytes} bytes`);
  // A small notice is left whole.
  const small = formatNotice(notice, 'wecom') as { markdown: { content: string } };
  assert.doesNotMatch(small.markdown.content, /truncated/);
  const cut = truncateBytes('é'.repeat(100), 50);
  assert.ok(Buffer.byteLength(cut) <= 50);
  assert.match(cut, /^(é)+\n\n…\(truncated\)$/);
  assert.equal(truncateBytes('abc', 3), 'abc');
});

// --- redaction -----------------------------------------------------------

test('redactUrl hides query values, user info, fragments and token-like path segments', () => {
  const cases: [string, string][] = [
    [
      `https://oapi.dingtalk.com/robot/send?access_token=${TOKEN}`,
      'https://oapi.dingtalk.com/robot/send?access_token=***',
    ],
    [
      `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${TOKEN}&debug=1`,
      'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***&debug=***',
    ],
    [
      `https://hooks.example.com/services/T000/B000/${TOKEN}`,
      'https://hooks.example.com/services/T000/B000/***',
    ],
    ['http://user:pw@127.0.0.1:8080/hook#frag', 'http://***@127.0.0.1:8080/hook#***'],
    ['http://127.0.0.1:9/plain', 'http://127.0.0.1:9/plain'],
    ['not a url', '<invalid URL>'],
  ];
  for (const [url, want] of cases) assert.equal(redactUrl(url), want);
});

// --- delivery ------------------------------------------------------------

interface Received {
  url: string;
  contentType: string | undefined;
  body: unknown;
}
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

const servers: http.Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
});

/** A webhook receiver on 127.0.0.1; `handler` answers the n-th request (0-based). */
async function receiver(handler: Handler): Promise<{ base: string; got: Received[] }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      got.push({
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        body: JSON.parse(text),
      });
      handler(req, res, got.length - 1);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

const ok: Handler = (_req, res) => res.end('{"errcode":0,"errmsg":"ok"}');

test('delivers each format to its target, all targets in parallel', async () => {
  const { base, got } = await receiver(ok);
  const errors: string[] = [];
  const notifier = new Notifier(
    [
      { url: `${base}/json`, format: 'json' },
      { url: `${base}/ding?access_token=${TOKEN}`, format: 'dingtalk' },
      { url: `${base}/wecom?key=${TOKEN}`, format: 'wecom' },
    ],
    { onError: (m) => errors.push(m) },
  );
  await notifier.send(notice);
  assert.deepEqual(errors, []);
  const byPath: Record<string, Received> = {};
  for (const g of got) byPath[g.url.split('?')[0]!] = g;
  assert.deepEqual(Object.keys(byPath).sort(), ['/ding', '/json', '/wecom']);
  assert.deepEqual(byPath['/json']!.body, notice);
  assert.deepEqual(byPath['/ding']!.body, formatNotice(notice, 'dingtalk'));
  assert.deepEqual(byPath['/wecom']!.body, formatNotice(notice, 'wecom'));
  assert.match(byPath['/json']!.contentType ?? '', /^application\/json/);
});

test('a 500 is retried, and the retry delivers', async () => {
  const { base, got } = await receiver((_req, res, n) => {
    res.statusCode = n === 0 ? 500 : 200;
    res.end(n === 0 ? 'busy' : 'ok');
  });
  const errors: string[] = [];
  await new Notifier([{ url: `${base}/hook`, format: 'json' }], {
    retries: 2,
    onError: (m) => errors.push(m),
  }).send(notice);
  assert.deepEqual(errors, []);
  assert.equal(got.length, 2);
});

test('retries are bounded; a 4xx is not retried; the error names the redacted URL', async () => {
  const { base, got } = await receiver((_req, res) => {
    res.statusCode = 503;
    res.end(`down, your token was ${TOKEN}`);
  });
  const errors: string[] = [];
  await new Notifier([{ url: `${base}/hook?access_token=${TOKEN}`, format: 'dingtalk' }], {
    retries: 2,
    onError: (m) => errors.push(m),
  }).send(notice);
  assert.equal(got.length, 3);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /\/hook\?access_token=\*\*\*: HTTP 503/);
  assert.match(errors[0]!, /after 3 attempts/);
  assert.ok(!errors[0]!.includes(TOKEN), errors[0]);

  const four = await receiver((_req, res) => {
    res.statusCode = 400;
    res.end('bad');
  });
  const e2: string[] = [];
  await new Notifier([{ url: `${four.base}/x`, format: 'json' }], {
    retries: 3,
    onError: (m) => e2.push(m),
  }).send(notice);
  assert.equal(four.got.length, 1);
  assert.match(e2[0]!, /HTTP 400: bad/);
});

test('a DingTalk robot with signing on gets timestamp and sign on every attempt', async () => {
  const secret = 'SEC0123456789abcdef0123456789abcdef';
  const { base, got } = await receiver((_req, res, n) => {
    // The first attempt is refused by a 502, so the retry must sign anew.
    res.statusCode = n === 0 ? 502 : 200;
    res.end(n === 0 ? `bad gateway ${secret}` : '{"errcode":0,"errmsg":"ok"}');
  });
  const errors: string[] = [];
  const before = Date.now();
  await new Notifier(
    [{ url: `${base}/robot/send?access_token=${TOKEN}`, format: 'dingtalk', secret }],
    { retries: 1, onError: (m) => errors.push(m) },
  ).send(notice);
  assert.deepEqual(errors, []);
  assert.equal(got.length, 2);
  const stamps = got.map((g) => {
    const q = new URL(g.url, base).searchParams;
    assert.equal(q.get('access_token'), TOKEN);
    const timestamp = q.get('timestamp') ?? '';
    assert.ok(Number(timestamp) >= before && Number(timestamp) <= Date.now(), timestamp);
    // DingTalk's rule: base64(HMAC-SHA256(key = secret, timestamp + "\n" + secret)).
    const want = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
    assert.equal(q.get('sign'), want);
    assert.equal(
      dingtalkSigned(`${base}/r`, secret, Number(timestamp)).split('sign=')[1],
      encodeURIComponent(want),
    );
    return timestamp;
  });
  assert.ok(stamps[1]! > stamps[0]!, 'each attempt carries its own timestamp');

  // Never in an error message, even when the server echoes it.
  const down = await receiver((_req, res) => {
    res.statusCode = 400;
    res.end(`refused: ${secret}`);
  });
  const e2: string[] = [];
  await new Notifier(
    [{ url: `${down.base}/r?access_token=${TOKEN}`, format: 'dingtalk', secret }],
    {
      retries: 0,
      onError: (m) => e2.push(m),
    },
  ).send(notice);
  assert.equal(e2.length, 1);
  assert.ok(!e2[0]!.includes(secret) && !e2[0]!.includes(TOKEN), e2[0]);
});

test('a robot that answers 200 with an errcode is reported', async () => {
  const { base } = await receiver((_req, res) =>
    res.end('{"errcode":40058,"errmsg":"markdown.content exceed max length 4096"}'),
  );
  const errors: string[] = [];
  await new Notifier([{ url: `${base}/cgi-bin/webhook/send?key=${TOKEN}`, format: 'wecom' }], {
    onError: (m) => errors.push(m),
  }).send(notice);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /key=\*\*\*: the robot refused the message: errcode 40058/);
});

test('a target that never answers times out; others are still notified', async () => {
  const silent = await receiver(() => undefined);
  const fine = await receiver(ok);
  const errors: string[] = [];
  await new Notifier(
    [
      { url: `${silent.base}/hook?access_token=${TOKEN}`, format: 'dingtalk' },
      { url: `${fine.base}/hook`, format: 'json' },
    ],
    { timeoutMs: 300, retries: 1, onError: (m) => errors.push(m) },
  ).send(notice);
  assert.equal(fine.got.length, 1);
  assert.equal(silent.got.length, 2);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /access_token=\*\*\*: no answer within 300 ms \(after 2 attempts\)/);
  assert.ok(!errors[0]!.includes(TOKEN));
});

test('connection refused: onError gets the redacted URL, send never throws', async () => {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const errors: string[] = [];
  await new Notifier(
    [{ url: `http://127.0.0.1:${port}/robot/send?access_token=${TOKEN}`, format: 'dingtalk' }],
    { retries: 1, onError: (m) => errors.push(m) },
  ).send(notice);
  assert.equal(errors.length, 1);
  assert.equal(
    errors[0]!.startsWith(`http://127.0.0.1:${port}/robot/send?access_token=***: ECONNREFUSED`),
    true,
    errors[0],
  );
  assert.ok(!errors[0]!.includes(TOKEN));

  // Neither a throwing onError nor an invalid URL escapes send().
  await new Notifier([{ url: 'nope', format: 'json' }], {
    onError: () => {
      throw new Error('handler failed');
    },
  }).send(notice);
  const e2: string[] = [];
  await new Notifier([{ url: 'nope', format: 'json' }], { onError: (m) => e2.push(m) }).send(
    notice,
  );
  assert.match(e2[0]!, /^<invalid URL>: /);
});

test('no targets: nothing to do', async () => {
  await new Notifier([]).send(notice);
});
