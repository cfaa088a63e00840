import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import {
  canonicalQuery,
  percentEncode,
  rpcSignature,
  signedRpcQuery,
} from '../../src/channels/phone.js';
import { dingtalkSign, dingtalkSignedUrl } from '../../src/channels/robots.js';
import { aliyunServerSignature } from '../helpers/standins.js';

test('Alibaba Cloud RPC signature matches the example in Alibaba Cloud documentation', () => {
  // The signature mechanism page's worked example (ECS DescribeRegions, secret "testsecret").
  const params = {
    AccessKeyId: 'testid',
    Action: 'DescribeRegions',
    Format: 'XML',
    SignatureMethod: 'HMAC-SHA1',
    SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
    SignatureVersion: '1.0',
    Timestamp: '2016-02-23T12:46:24Z',
    Version: '2014-05-26',
  };
  assert.equal(rpcSignature('GET', params, 'testsecret'), 'OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
});

test('percent-encoding follows RFC 3986 as Alibaba Cloud signs (space %20, * %2A, ~ kept)', () => {
  assert.equal(percentEncode("a b*c~d!'()"), 'a%20b%2Ac~d%21%27%28%29');
  assert.equal(percentEncode('告警'), '%E5%91%8A%E8%AD%A6');
  assert.equal(percentEncode('{"a":"b"}'), '%7B%22a%22%3A%22b%22%7D');
  assert.equal(canonicalQuery({ b: '2', a: '1 2', Signature: 'x' }), 'a=1%202&b=2');
});

test('a signed SendSms query verifies with the stand-in server-side check', () => {
  const q = signedRpcQuery('SendSms', 'AKID', 'S3CR3T', {
    PhoneNumbers: '13800000000',
    SignName: '告警平台',
    TemplateCode: 'SMS_1',
    TemplateParam: JSON.stringify({ alert: 'High CPU *', service: 'user-service' }),
  });
  const params = new Map<string, string>();
  for (const pair of q.split('&')) {
    const i = pair.indexOf('=');
    params.set(decodeURIComponent(pair.slice(0, i)), decodeURIComponent(pair.slice(i + 1)));
  }
  assert.equal(params.get('SignatureMethod'), 'HMAC-SHA1');
  assert.equal(params.get('Version'), '2017-05-25');
  assert.equal(params.get('RegionId'), 'cn-hangzhou');
  assert.match(params.get('Timestamp')!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(params.get('Signature'), aliyunServerSignature(params, 'S3CR3T'));
  assert.notEqual(params.get('Signature'), aliyunServerSignature(params, 'other'));
});

test('DingTalk sign is base64(HMAC-SHA256(secret, timestamp\\nsecret)), fresh per attempt', () => {
  const secret = 'SECabc';
  const ts = 1_700_000_000_000;
  const want = createHmac('sha256', secret).update(`${ts}\n${secret}`).digest('base64');
  assert.equal(dingtalkSign(secret, ts), want);
  const ch = {
    kind: 'dingtalk' as const,
    url: 'https://oapi.dingtalk.com/robot/send?access_token=T',
    secret,
    atMobiles: [],
    atAll: false,
  };
  const u = new URL(dingtalkSignedUrl(ch, ts));
  assert.equal(u.searchParams.get('access_token'), 'T');
  assert.equal(u.searchParams.get('timestamp'), String(ts));
  assert.equal(u.searchParams.get('sign'), want);
  assert.notEqual(new URL(dingtalkSignedUrl(ch, ts + 1)).searchParams.get('sign'), want);
});
