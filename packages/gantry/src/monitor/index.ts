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
