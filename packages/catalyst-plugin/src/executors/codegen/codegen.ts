import { logger, type ExecutorContext } from '@nx/devkit';
import { join } from 'node:path';
import { resolveServiceNames } from '../../utils/service';
import { runCodegen } from './lib/run-codegen';
import type { CodegenExecutorSchema } from './schema';

/** Where a service is and what it is called, from the executor context. */
export function serviceFromContext(context: ExecutorContext, packageNameOverride?: string) {
  const projectName = context.projectName;
  const project = projectName ? context.projectsConfigurations?.projects[projectName] : undefined;
  if (!projectName || !project) throw new Error('The Catalyst executors must run on a project target.');
  const projectRoot = join(context.root, project.root);
  const names = resolveServiceNames(projectRoot, projectName);
  return {
    projectName,
    displayRoot: project.root,
    projectRoot,
    distributionName: names.distributionName,
    // An explicit package is used as given: the schema only admits Python identifiers, and the
    // codegen target's outputs name the same string.
    packageName: packageNameOverride || names.packageName,
  };
}

export default async function codegenExecutor(
  options: CodegenExecutorSchema,
  context: ExecutorContext,
): Promise<{ success: boolean }> {
  const service = serviceFromContext(context, options.packageName);
  const outcome = runCodegen({
    projectRoot: service.projectRoot,
    displayRoot: service.displayRoot,
    packageName: service.packageName,
    serviceName: service.distributionName,
  });
  if (outcome.success) logger.info(outcome.report);
  else logger.error(outcome.report);
  return { success: outcome.success };
}
