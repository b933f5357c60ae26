import { runtimeProjectNameOf } from './runtime-project';

/** Options of the plugin entry in nx.json (`{ "plugin": "@catalyst/plugin", "options": {...} }`). */
export interface CatalystPluginOptions {
  /** Name of the inferred target that compiles the workflow definitions. Default `codegen`. */
  codegenTargetName?: string;
  /** Name of the inferred target that serves the service. Default `serve`. */
  serveTargetName?: string;
  /** Name of the inferred target that runs the service's pytest suite. Default `test`. */
  testTargetName?: string;
  /** Nx project name of the shared runtime library. Default `catalyst-runtime`. */
  runtimeProjectName?: string;
}

export type NormalizedPluginOptions = Required<CatalystPluginOptions>;

export function normalizePluginOptions(options: CatalystPluginOptions | undefined): NormalizedPluginOptions {
  return {
    codegenTargetName: options?.codegenTargetName ?? 'codegen',
    serveTargetName: options?.serveTargetName ?? 'serve',
    testTargetName: options?.testTargetName ?? 'test',
    runtimeProjectName: runtimeProjectNameOf(options).name,
  };
}
