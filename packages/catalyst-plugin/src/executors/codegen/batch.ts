import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import { readService } from '../../utils/service';
import { runCodegen } from './lib/run-codegen';
import type { CodegenExecutorSchema } from './schema';

/** One task's result, as Nx's batch runner takes it. */
export interface BatchTaskResult {
  task: string;
  result: { success: boolean; terminalOutput: string };
}

/**
 * The codegen executor in Nx's batch mode (`NX_BATCH_MODE=true` or `--batch`): every requested
 * service compiles in this one process, so the compiler loads once instead of once per task.
 * Each task gets its own result as soon as it is done; one that fails (a broken definition, an
 * unreadable pyproject.toml) fails only itself.
 */
export default async function* codegenBatch(
  taskGraph: TaskGraph,
  inputs: Record<string, CodegenExecutorSchema>,
  _overrides: CodegenExecutorSchema,
  context: ExecutorContext,
): AsyncGenerator<BatchTaskResult> {
  // Nx lists the tasks in dependency order; codegen tasks never depend on each other, so any
  // order is right, and sorting keeps the output deterministic.
  for (const id of Object.keys(taskGraph.tasks).sort()) {
    const { project: projectName } = taskGraph.tasks[id].target;
    let result: BatchTaskResult['result'];
    try {
      const project = context.projectsConfigurations?.projects[projectName];
      if (!project) throw new Error(`No project "${projectName}" in this workspace.`);
      const service = readService(context.root, project.root, projectName);
      const packageName = inputs[id]?.packageName;
      const outcome = runCodegen(packageName ? { ...service, packageName } : service);
      result = { success: outcome.success, terminalOutput: `${outcome.report}\n` };
    } catch (e) {
      result = { success: false, terminalOutput: `${(e as Error).message}\n` };
    }
    yield { task: id, result };
    // Let Nx print the finished task before the next one starts compiling.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
