import type { Tree } from '@nx/devkit';
import { updateGitignore } from '../../generators/init/lib/update-gitignore';

/**
 * Since 0.1.0 `init` git-ignores `.env` at any depth: a service that misses a secret tells the
 * user to put it there. A workspace set up by an earlier version lacks the entry; this adds it
 * (and any other entry `init` writes that .gitignore lacks), leaving existing lines alone.
 */
export default function ignoreEnvFiles(tree: Tree): void {
  updateGitignore(tree);
}
