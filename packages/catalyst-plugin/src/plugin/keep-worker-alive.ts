import type { PostTasksExecution } from '@nx/devkit';
import type { CatalystPluginOptions } from './options';

/**
 * Nx's hook after a command's tasks, registered only so that Nx keeps this plugin's worker
 * process for the whole command. Nx (its PluginLifecycleManager in 23.3.1 and 24.0.6) ends a
 * plugin's worker after the last kind of hook the plugin registers: with only `createNodes` and
 * `createDependencies`, right after the project graph. Without the daemon, a command that runs `codegen` computes the graph a second
 * time, to run the tasks' sync generators (ours is registered on `codegen`), and had to start
 * the ended worker again: 0.3–0.4 s of CPU at 200 services, a tenth of a fully cached
 * `run-many -t codegen`. With this hook, the second computation asks the worker that is still
 * running. It does nothing: the worker's cost while tasks run is memory, not CPU.
 */
export const postTasksExecution: PostTasksExecution<CatalystPluginOptions> = () => undefined;
