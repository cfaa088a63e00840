// Release notifications: webhooks in generic JSON, DingTalk and WeCom robot formats.
export {
  DINGTALK_MAX_BODY_BYTES,
  WECOM_MAX_CONTENT_BYTES,
  formatNotice,
  truncateBytes,
} from './format.js';
export type { NoticeCheck, ReleaseNotice, WebhookTarget } from './format.js';
export { Notifier, dingtalkSigned, redactUrl } from './notifier.js';
export type { NotifierOptions } from './notifier.js';
