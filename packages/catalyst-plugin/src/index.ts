/**
 * `@catalyst/plugin` as Nx loads it: inferred targets (`createNodes`/`createNodesV2`), project
 * graph edges (`createDependencies`), and a `postTasksExecution` hook that only keeps the
 * plugin's worker for the whole command (keep-worker-alive.ts). Kept free of the compiler so
 * that computing the project graph never loads it (only its list of Python keywords, a module
 * with no imports, through `utils/python-names`); the compiler lives at
 * `@catalyst/plugin/dist/compiler`.
 */
export { createNodes, createNodesV2 } from './plugin/create-nodes';
export { createDependencies } from './plugin/create-dependencies';
export { postTasksExecution } from './plugin/keep-worker-alive';
export type { CatalystPluginOptions } from './plugin/options';
