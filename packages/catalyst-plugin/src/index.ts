/**
 * `@catalyst/plugin` as Nx loads it: inferred targets (`createNodes`/`createNodesV2`) and project
 * graph edges (`createDependencies`). Kept free of the compiler so that computing the project
 * graph never loads it (only its list of Python keywords, a module with no imports, through
 * `utils/python-names`); the compiler lives at `@catalyst/plugin/dist/compiler`.
 */
export { createNodes, createNodesV2 } from './plugin/create-nodes';
export { createDependencies } from './plugin/create-dependencies';
export type { CatalystPluginOptions } from './plugin/options';
