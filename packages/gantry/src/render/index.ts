export { renderService, configMapName, secretName, ANNOTATION_CONFIG_HASH } from './objects.js';
export type { KubeObject, RenderOptions } from './objects.js';
export { toYaml, redactSecrets, stringifyYaml, needsQuotes, readsBackAs } from './yaml.js';
export { commonLabels, selectorLabels, labelValue, TRACK_LABEL, trackSelector } from './labels.js';
export type { Track } from './labels.js';
export { contentHash } from './hash.js';
export {
  renderChart,
  writeChart,
  splitImageRef,
  isChartVersion,
  ChartDirError,
  DEFAULT_CHART_VERSION,
} from './chart.js';
export type { ChartOptions, ChartFile, HelmChart } from './chart.js';
