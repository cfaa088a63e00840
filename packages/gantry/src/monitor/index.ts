export {
  BURN_WINDOWS,
  prometheusRuleObject,
  promDuration,
  renderAlertRules,
  requestSelectors,
  ruleGroupName,
  rulesYaml,
} from './rules.js';
export type { AlertingRule, RecordingRule, RenderedRules, Rule, RuleGroup } from './rules.js';
export { quantityValue } from './quantity.js';
export {
  AlertRulesError,
  applyAlertRules,
  removeAlertRules,
  rulesFileName,
  serviceAlerts,
} from './apply.js';
export type { ActiveAlert, AppliedRules, RulesTarget } from './apply.js';
export {
  DEFAULT_RELAY_URL,
  RELAY_KINDS,
  WECOM_ROBOT_URL,
  TEST_ALERT,
  TEST_ID_LABEL,
  TEST_RECEIVER_LABEL,
  describeReceiver,
  isTestRoute,
  matcher,
  receiverKey,
  relayBaseUrl,
  relayChannels,
  renderAlertmanager,
  resolveReceiverSecrets,
  routeMatchers,
  scrubSecrets,
  testRoute,
} from './receivers.js';
export type {
  AlertmanagerFragment,
  AlertmanagerRenderOptions,
  AmInhibitRule,
  AmReceiver,
  AmRoute,
  ReceiverSecrets,
  RelayChannel,
  RelayEntry,
  RenderedAlertmanager,
  ResolvedReceivers,
} from './receivers.js';
export {
  AlertmanagerConfigError,
  alertmanagerConfigObject,
  applyAlertmanagerConfig,
  basePathOf,
  composeAlertmanagerConfig,
  describeReceivers,
  fragmentName,
  fragmentsDirOf,
  hasSubtree,
  readFragments,
  removeAlertmanagerConfig,
} from './alertmanager.js';
export type { AlertmanagerTarget, AppliedAlertmanager } from './alertmanager.js';
export { RELAY_SECRET, relaySecretKey, writeRelayChannels } from './relay.js';
export type { RelaySecretRef } from './relay.js';
export {
  SilenceError,
  createSilence,
  expireSilence,
  formatMatchers,
  listSilences,
  silenceMatchers,
} from './silences.js';
export type { Silence, SilenceMatcher, SilenceRequest } from './silences.js';
export { applyServiceRouting, hasRelayReceivers, routesSomething } from './routing.js';
export type { RoutingResult, RoutingTarget } from './routing.js';
export {
  AlertTestError,
  alertmanagerMetrics,
  deliveryStatus,
  integrationOf,
  parseMetrics,
  relayMetrics,
  testReceivers,
} from './alert-test.js';
export type {
  AlertTestOptions,
  AlertTestReport,
  DeliveryStatus,
  MetricSample,
  ReceiverDelivery,
  ReceiverTestResult,
  TestOutcome,
} from './alert-test.js';
