// Daemonless, reproducible OCI images: layers, builds, registry push/pull,
// OCI layouts, and helpers for Node.js and Go services.
export {
  parseImageRef,
  formatImageRef,
  referenceOf,
  registryBaseUrl,
  isInsecureRegistry,
  ImageRefError,
} from './ref.js';
export type { ImageRef } from './ref.js';
export { writeTar, tarStream, TarError } from './tar.js';
export type { TarEntry } from './tar.js';
export { BlobCache, defaultCacheDir, sha256, digestFile } from './cache.js';
export {
  buildLayer,
  layerFromEntries,
  collectLayerEntries,
  sourceDateEpoch,
  LayerError,
  LAYER_MEDIA_TYPE,
  COMPRESSOR,
} from './layer.js';
export type { Layer, LayerFile, LayerSpec, BuildLayerOptions } from './layer.js';
export { dockerCredentials, dockerConfigDir } from './credentials.js';
export type { Credentials, FoundCredentials } from './credentials.js';
export { RegistryClient, RegistryError, MEDIA, shortDigest } from './registry.js';
export type {
  Descriptor,
  ImageManifest,
  ManifestResult,
  Platform,
  RegistryOptions,
  RegistryStats,
  PushBlobResult,
  BlobContent,
} from './registry.js';
export {
  buildImage,
  pushImage,
  pullImage,
  localBlob,
  RegistryClients,
  ImageError,
} from './image.js';
export type {
  Image,
  ImageConfig,
  ImageLayer,
  ImageMetadata,
  OciImageConfig,
  BuildImageOptions,
  PushOptions,
  PushResult,
  PushedBlob,
  BlobSource,
} from './image.js';
export { writeOciLayout, writeOciTar } from './layout.js';
export type { LayoutOptions } from './layout.js';
export {
  nodeServiceLayers,
  nodeServiceImage,
  nodeProductionDependencies,
  defaultNodeBaseImage,
  hostNodeBaseImage,
  NodeLayoutError,
} from './node.js';
export type {
  NodePackage,
  NodeServiceLayers,
  NodeLayersOptions,
  NodeServiceImageOptions,
  BuildInfo,
} from './node.js';
export { buildGoBinary, goServiceImage, GoBuildError } from './go.js';
export type { GoBinaryOptions, GoServiceImageOptions } from './go.js';
export { dockerfileFor, nodeDockerfile, goDockerfile, findWorkspaceRoot } from './dockerfile.js';
export { buildServiceImage, tagFor, buildEpoch } from './service.js';
export type { ServiceBuildOptions } from './service.js';
